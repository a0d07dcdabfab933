"""What an Intacct journal-entry write sends that the record will not show, named before anything changes.

Sage Intacct ignores read-only members on writes (vendor spec `readOnly`: an entry's or a line's `key` on create,
`id`, `lineNumber`, `entryDate`, `baseAmount`, a line's `state`, the owning `journalEntry`, every reference's
`href`), and a reference's `name` where the object has its own (a GL account) or the read shows none (journals,
attachments, locations, tax references, allocations). The seed's own samples send them: a reclassification
with `state: draft` and line members a reclassification cannot change, answered 200. So the mock ignores them
too, and names each one whose value differs from what the record shows in a warning (`Call.warn`: an
`X-Ledger-Mock-Warning` header, or a 400 under `serve --strict`). A value equal to the one shown is not lost,
so it is not reported.

The functions here only read: they predict what the write will show (line positions, the final state), so
they run before the write, as a warning under --strict must refuse the request before it changes anything.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterator, Mapping, Sequence

from ...errors import ApiError
from ...ledger import JournalEntry
from . import rules, wire
from .state import Company, to_date

# A line's members a reclassification cannot change (dossier section 6: it changes glAccount, dimensions,
# description, documentId, txnAmount and txnType); the seed's reclassify sample sends some and is answered 200.
NOT_RECLASSIFIED = ("numberOfUnits", "accountingPeriod", "isBillable", "currency", "allocation", "taxEntries")
# References kept as sent, by key and id (the vendor schema gives them key, id and href only: no read shows a name).
STORED = ("attachment", "baseLocation")
UNNAMED_TAX = ("taxSolution", "vendor", "customer", "contact")


def on_create(company: Company, body: Mapping[str, Any], today: date) -> list[str]:
    said = list(_header(company, body, {}))
    for member in ("key", "id"):
        if body.get(member) is not None:
            said.append(_read_only(member, "the entry's key is assigned by Sage Intacct"))
    state = _shown_state(body.get("state", "posted"), body.get("automaticReversalDate"), today)
    posting = body.get("postingDate")
    for index, item in enumerate(body.get("lines") or ()):
        said += _line(company, item, f"lines/{index}", position=index + 1, posting=posting, state=state,
                      line=None, entry=None)
    return said


def on_update(company: Company, entry: JournalEntry, body: Mapping[str, Any], today: date,
              shown: Mapping[str, Any]) -> list[str]:
    """`shown`: the entry as a GET shows it today (wire.entry_out)."""
    said = list(_header(company, body, shown))
    if body.get("id") is not None and str(body["id"]) != entry.id:
        said.append(_read_only("id", f"the entry's id is {entry.id}"))
    requested = body.get("state")
    status = entry.status if requested in (None, entry.status) else requested
    reversal = body["automaticReversalDate"] if "automaticReversalDate" in body else \
        entry.attrs.get("automaticReversalDate")
    state = shown["state"] if status == entry.status else _shown_state(status, reversal, today)
    posting = body.get("postingDate", entry.date.isoformat())
    said += _lines(company, entry, body.get("lines") or (), posting=posting, state=state, reclassify=False)
    return said


def on_reclassify(company: Company, entry: JournalEntry, body: Mapping[str, Any], today: date) -> list[str]:
    said = list(_header(company, body, wire.entry_out(company, entry, today)))
    if body.get("id") is not None and str(body["id"]) != entry.id:
        said.append(_read_only("id", f"the entry's id is {entry.id}"))
    state = wire.entry_state(entry, today)
    said += _lines(company, entry, body.get("lines") or (), posting=entry.date.isoformat(), state=state,
                   reclassify=True)
    return said


def _lines(company: Company, entry: JournalEntry, items: Sequence[Mapping[str, Any]], *, posting: str, state: str,
           reclassify: bool) -> list[str]:
    """Each item where rules._merge_lines puts it: a keyed item on its line, an unkeyed one appended (update) or
    on the line at its position (reclassify)."""
    said: list[str] = []
    positions = {line.id: n for n, line in enumerate(entry.lines)}
    appended = len(entry.lines)
    for index, item in enumerate(items):
        where = f"lines/{index}"
        if item.get("key") is not None:
            position = positions.get(str(item["key"]))
        elif reclassify:
            position = index if index < len(entry.lines) else None
        else:
            position, appended = appended, appended + 1
        line = entry.lines[position] if position is not None and position < len(entry.lines) else None
        if position is None:
            continue  # a line the rules refuse (GL-1010): the refusal says so
        said += _line(company, item, where, position=position + 1, posting=posting, state=state, line=line,
                      entry=entry)
        if reclassify and line is not None:
            shown = wire.line_out(company, entry, line, position + 1, state)
            for member in NOT_RECLASSIFIED:
                if member in item and wire.differs(item[member], shown.get(member)):
                    said.append(f"body field `{where}/{member}` was ignored: a reclassification changes only "
                                f"glAccount, dimensions, description, documentId, txnAmount and txnType")
    return said


def _line(company: Company, item: Mapping[str, Any], where: str, *, position: int, posting: str | None, state: str,
          line: Any, entry: JournalEntry | None) -> Iterator[str]:
    key = line.id if line is not None else None
    if key is None and item.get("key") is not None:
        yield _read_only(f"{where}/key", "a new line's key is assigned by Sage Intacct")
    if item.get("id") is not None and (key is None or str(item["id"]) != str(key)):
        yield _read_only(f"{where}/id", "a line's id is its key")
    if item.get("lineNumber") is not None and item["lineNumber"] != position:
        yield _read_only(f"{where}/lineNumber", f"the line is number {position}")
    if item.get("entryDate") is not None and posting is not None and str(item["entryDate"]) != str(posting):
        yield _read_only(f"{where}/entryDate", "a line's entryDate is the entry's postingDate")
    amount = item.get("txnAmount", None if line is None else str(line.amount))
    if item.get("baseAmount") is not None and not wire.same_amount(item["baseAmount"], amount):
        yield _read_only(f"{where}/baseAmount", "baseAmount is txnAmount (the book is USD at rate 1, D16)")
    if item.get("state") is not None and item["state"] != state:
        yield _read_only(f"{where}/state", f"a line has its entry's state ({state})")
    if item.get("href") is not None and (key is None or item["href"] != f"{wire.LINE_PATH}/{key}"):
        yield _read_only(f"{where}/href", "href follows from the line's key")
    owner = item.get("journalEntry") or {}
    shown = {} if entry is None else wire.ref(wire.ENTRY_PATH, entry.id)
    for member in ("key", "id", "href", "name"):
        if owner.get(member) is not None and str(owner[member]) != str(shown.get(member)):
            yield _read_only(f"{where}/journalEntry/{member}", "a line belongs to the entry it is written with")
    account = _account(company, item.get("glAccount"), line)
    if account is not None:
        yield from _derived(item.get("glAccount") or {}, f"{where}/glAccount",
                            {"name": account.name, "href": f"{wire.ACCOUNT_PATH}/{account.id}"})
    for name, dimension in (item.get("dimensions") or {}).items():
        if isinstance(dimension, Mapping) and dimension.get("href") is not None:
            yield _read_only(f"{where}/dimensions/{name}/href", "dimension references are shown without href")
    yield from _stored(item.get("allocation"), f"{where}/allocation", wire.REF_PATHS["allocation"])
    for n, tax in enumerate(item.get("taxEntries") or ()):
        yield from _stored(tax.get("taxDetail"), f"{where}/taxEntries/{n}/taxDetail", wire.REF_PATHS["taxDetail"])


def _header(company: Company, body: Mapping[str, Any], shown: Mapping[str, Any]) -> Iterator[str]:
    """`shown`: the entry as a GET shows it now (empty on create)."""
    journal = _journal(company, body.get("glJournal"))
    if journal is not None:
        yield from _derived(body["glJournal"], "glJournal", {"href": f"{wire.JOURNAL_PATH}/{journal.key}"})
        adjustment = body["glJournal"].get("isAdjustment")
        if adjustment is not None and adjustment is not journal.is_adjustment:
            yield _read_only("glJournal/isAdjustment", f"journal {journal.id} shows {journal.is_adjustment}")
    for name in wire.READ_ONLY_SHOWN:
        if name in body and wire.differs(body[name], shown.get(name)):
            yield _read_only(name, "the record shows " + ("its own" if shown else "what Sage Intacct assigns"))
    for name in STORED:
        yield from _stored(body.get(name), name, wire.REF_PATHS[name])
    for name in UNNAMED_TAX:
        yield from _stored((body.get("tax") or {}).get(name), f"tax/{name}", wire.REF_PATHS[name])


def _stored(ref: Any, where: str, path: str) -> Iterator[str]:
    """A reference kept by key and id: its `href` follows from the key, and no read shows a `name`."""
    if not isinstance(ref, Mapping):
        return
    if ref.get("name") is not None:
        yield _not_shown(f"{where}/name", "the reference is kept by key and id")
    if ref.get("href") is not None and (ref.get("key") is None or str(ref["href"]) != f"{path}/{ref['key']}"):
        yield _read_only(f"{where}/href", "href follows from the key")


def _derived(ref: Mapping[str, Any], where: str, shown: Mapping[str, str]) -> Iterator[str]:
    """A reference to an existing object: its `name` and `href` are the object's own."""
    for member in ("name", "href"):
        if ref.get(member) is not None and str(ref[member]) != shown.get(member):
            if member in shown:
                yield _read_only(f"{where}/{member}", f"the record shows {shown[member]!r}")
            else:
                yield _not_shown(f"{where}/{member}", "the object is shown by key and id")


def _journal(company: Company, ref: Any) -> Any:
    if not rules._names_something(ref):
        return None
    try:
        return rules.resolve_journal(company, ref)
    except ApiError:
        return None  # the write is refused for it anyway


def _account(company: Company, ref: Any, line: Any) -> Any:
    if rules._names_something(ref):
        try:
            return rules.resolve_account(company, ref)
        except ApiError:
            return None
    return None if line is None else company.book.accounts.get(line.account_id)


def _shown_state(state: str, automatic_reversal: Any, today: date) -> str:
    """The state an entry shows once it is `state`: an effective entry with an automaticReversalDate is
    reversalPending, and reads reversed from that date (dossier section 6)."""
    if state in ("posted", "approved") and automatic_reversal:
        try:
            return "reversed" if to_date(automatic_reversal) <= today else "reversalPending"
        except ValueError:
            return state
    return state


def _read_only(field: str, why: str) -> str:
    return f"body field `{field}` is read-only and was ignored: {why}"


def _not_shown(field: str, why: str) -> str:
    return f"body field `{field}` was ignored: {why}, without a name"
