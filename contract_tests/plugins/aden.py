"""Aden: `Authorization: jwt <token>` (the scheme word is jwt, not Bearer)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator, Mapping
from urllib.parse import quote

from ..probes import Probe
from ..snapshot import Copy, mock_secret, money, slug

CREDENTIALS = ("token",)
ERROR_SCHEMA = "Error"
MONEY_FIELDS = frozenset({"debit", "credit", "total_debit", "total_credit", "balance", "opening_balance",
                          "min_amount", "max_amount", "amount"})
RULE_REFUSALS = ("400", "409")  # business rules are 400; status conflicts 409 INVALID_STATUS
GL = "/service/general-ledger"


def unwrap(body: Any) -> Any:
    return body.get("data", body) if isinstance(body, dict) else body


def install(schema: Any, credentials: Mapping[str, str], session: Any, base_url: str) -> None:
    @schema.auth()
    class AdenAuth:
        def get(self, case: Any, ctx: Any) -> str:
            return credentials["token"]

        def set(self, case: Any, token: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"jwt {token}"}


def probes(session: Any, base_url: str, credentials: Mapping[str, str], *, read_only: bool) -> Iterator[Probe]:
    auth = {"Authorization": f"jwt {credentials['token']}"}
    yield Probe(f"GET {GL}/accounts", "a Bearer token is refused: Aden's scheme word is jwt",
                session.get(base_url + GL + "/accounts", headers={"Authorization": f"Bearer {credentials['token']}"},
                            timeout=30), expected={401})
    if read_only:
        return
    accounts = [a["account_id"] for a in unwrap(session.get(base_url + GL + "/accounts", headers=auth,
                                                            timeout=30).json()) or []
                if not a.get("is_inactive") and not a.get("is_summary")][:2]
    periods = [p for p in unwrap(session.get(base_url + GL + "/accounting-periods", headers=auth,
                                             timeout=30).json()) or []
               if not p.get("is_closed") and not p.get("is_adjustment_period")]
    if len(accounts) < 2 or not periods:
        return
    body = {"journal_entry_id": "CONTRACT-PROBE-UNBALANCED", "tran_date": periods[0]["start_date"], "memo": "contract probe: unbalanced",
            "lines": [{"account_id": accounts[0], "debit": 10.00, "credit": 0},
                      {"account_id": accounts[1], "debit": 0, "credit": 9.99}]}
    yield Probe(f"POST {GL}/journal-entries", "an unbalanced entry is refused",
                session.post(base_url + GL + "/journal-entries", json=body, headers=auth, timeout=30),
                expected={400})


# -- snapshot (`ledger-mock snapshot`) ---------------------------------------------------------------------------

# Aden's audit names for the workflow actions the fixtures replay (`steps`), back to the actions.
STEP_OF = {"Submit for Approval": "submit", "Approve": "approve", "Reject": "reject",
           "Request Change": "request-change", "Place on Hold": "hold", "Remove from Hold": "unhold",
           "Post to GL": "post", "Void": "void"}
SYSTEM = "system"  # who posts an entry its final approval posted


def snapshot(reader: Any, credentials: Mapping[str, str], tenant: str) -> Copy:
    """The entity the token opens: chart (inactive accounts too), accounting periods, approval rules and
    journal entries. Each entry is written with the steps that made it (its author's create, then its approval
    history), which the fixtures replay through the workflow, so statuses, approvals and balances come out as
    the API made them. Aden has no read of users, roles, the entity itself or its posting mode: see `defaults`."""
    reader.headers = {"Authorization": f"jwt {credentials['token']}"}

    def every(path: str, key: str = "data", **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            body = reader.get(GL + path, {**params, "limit": 100, "offset": len(rows)})
            rows += body[key]
            if not body[key] or len(rows) >= body.get("pagination", body).get("total", 0):
                return rows

    accounts = every("/accounts", is_inactive="true")
    periods = every("/accounting-periods")
    rules = every("/approval-rules", "rules")
    entries = [reader.get(f"{GL}/journal-entries/{quote(row['journal_entry_id'], safe='')}")
               for row in every("/journal-entries")]
    adjustment = {p["period_id"] for p in periods if p.get("is_adjustment_period")}
    used = {line["account_id"] for entry in entries for line in entry["lines"]}
    revived = sorted(a["account_id"] for a in accounts if a.get("is_inactive") and a["account_id"] in used)
    history = [item for entry in entries for item in entry.get("approval_history") or ()]
    posts = [item["performed_by"] for item in history if item["action"] == "Post to GL"]
    auto_post = SYSTEM in posts or not (any(e["status"] == "Approved" for e in entries) or posts)
    caller = slug(tenant)
    users = dict.fromkeys([caller, *(e["created_by"] for e in entries), *(i["performed_by"] for i in history),
                           *(r.get("approver_user_id") for r in rules)])
    users.pop(SYSTEM, None)
    users.pop(None, None)
    currencies = [a["currency"] for a in accounts if a.get("currency")]
    organisation, entity = f"org_{caller}", "main"
    section = {
        "organisations": [{"id": organisation, "name": tenant,
                           "users": [{"id": user, "name": user, "roles": ["admin"]} for user in users],
                           "entities": [{
                               "id": entity, "name": tenant,
                               "currency": max(set(currencies), key=currencies.count) if currencies else "USD",
                               "auto_post": auto_post,
                               "accounts": [_account_row(a, revived) for a in _parents_first(accounts)],
                               "periods": [_period_row(p) for p in periods],
                               "approval_rules": [_rule_row(r) for r in rules],
                               "journal_entries": [_entry_row(e, adjustment) for e in entries]}]}],
        "tokens": [{"token": mock_secret("aden", tenant, f"token_{slug(user)}"), "organisation": organisation,
                    "entity": entity, "user": user} for user in users]}
    defaults = [
        f"the organisation ({organisation}) and entity ({entity}) ids and names, from the tenant name",
        f"users and roles: every user the entries and rules name, plus `{caller}` (the copy's caller, the first "
        "token), each with role admin, so the recorded approvals replay",
        f"auto_post: {str(auto_post).lower()} (true when an entry was posted by `system` on its final approval, "
        "false when one waits in Approved or was posted by hand, else Aden's default, true)",
        "closed periods are written closed (soft); whether one was hard-closed, and sub-ledger locks, are not "
        f"readable; who closed a period or made a rule (`{caller}`)",
        "a reversal keeps its lines, type and status, not its link to the original (original_entry_id)"]
    if revived:
        defaults.append(f"accounts {', '.join(revived)} are inactive but used by entries: written active, as "
                        "the fixtures create accounts before entries")
    return Copy(section, defaults=defaults, counts={"accounts": len(accounts), "periods": len(periods),
                                                     "approval rules": len(rules), "journal entries": len(entries)})


def _parents_first(accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chart in its own order, except that a parent comes before its sub-accounts (the fixtures check it)."""
    by_id, placed, ordered = {a["account_id"]: a for a in accounts}, set(), []

    def place(account: dict[str, Any]) -> None:
        if account["account_id"] in placed:
            return
        placed.add(account["account_id"])
        parent = by_id.get(account.get("parent_account_id") or "")
        if parent is not None:
            place(parent)
        ordered.append(account)
    for account in accounts:
        place(account)
    return ordered


def _account_row(account: Mapping[str, Any], revived: list[str]) -> dict[str, Any]:
    row = {key: account[key] for key in ("account_id", "account_number", "account_name", "account_type",
                                         "normal_balance", "currency", "parent_account_id", "description")
           if account.get(key) is not None}
    row["opening_balance"] = money(account.get("opening_balance") or 0)
    if account.get("is_summary"):
        row["is_summary"] = True
    if account.get("is_inactive") and account["account_id"] not in revived:
        row["is_inactive"] = True
    return row


def _period_row(period: Mapping[str, Any]) -> dict[str, Any]:
    row = {key: period[key] for key in ("period_id", "period_name", "fiscal_year_id", "start_date", "end_date",
                                        "quarter")}
    if period.get("is_adjustment_period"):
        row["is_adjustment_period"] = True
    if period.get("is_closed"):
        row["closed"] = True
    return row


def _rule_row(rule: Mapping[str, Any]) -> dict[str, Any]:
    row = {key: rule[key] for key in ("rule_id", "rule_name", "document_type", "rule_type", "is_active", "priority",
                                      "approval_level", "approver_type", "approver_role", "approver_user_id")
           if rule.get(key) is not None}
    row["min_amount"], row["max_amount"] = money(rule.get("min_amount")), money(rule.get("max_amount"))
    return row


def _entry_row(entry: Mapping[str, Any], adjustment: set[str]) -> dict[str, Any]:
    fields = {"journal_entry_id": entry["journal_entry_id"], "tran_date": entry["tran_date"],
              **{key: entry[key] for key in ("memo", "entry_type", "currency") if entry.get(key) is not None}}
    if entry.get("posting_period_id") in adjustment:  # a regular period is found from the date, as Aden finds it
        fields["posting_period_id"] = entry["posting_period_id"]
    fields["lines"] = [{"line_number": line["line_number"], "account_id": line["account_id"],
                        **{side: money(line[side]) for side in ("debit", "credit") if Decimal(str(line[side]))},
                        **({"memo": line["memo"]} if line.get("memo") is not None else {})}
                       for line in entry["lines"]]
    steps: list[list[Any]] = [["create", entry["created_by"]]]
    for item in entry.get("approval_history") or ():
        if item["action"] == "Post to GL" and item["performed_by"] == SYSTEM:
            continue  # the final approval posts again when replayed
        steps.append([STEP_OF[item["action"]], item["performed_by"],
                      *([item["comments"]] if item.get("comments") is not None else [])])
    return {"entry": fields, "steps": steps}
