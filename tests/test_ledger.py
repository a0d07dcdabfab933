"""The provider-neutral ledger rules, without HTTP."""

from __future__ import annotations

import re
import threading
from datetime import date
from decimal import Decimal

import pytest

from mock_server.clock import Clock, IdGenerator
from mock_server.ledger import (Account, AccountKind, Book, DeleteBlocked, Flow, InvalidAmount, InvalidEntry, NewLine,
                                NotFound, PeriodClosed, Side, Unbalanced, UnknownReference, format_amount,
                                parse_amount, Workflow)
from tests.conftest import FROZEN

D, C = Side.DEBIT, Side.CREDIT


@pytest.fixture
def book():
    book = Book("t1", clock=Clock(FROZEN), ids=IdGenerator(7))
    for account_id, kind in (("cash", AccountKind.ASSET), ("rent", AccountKind.EXPENSE),
                             ("accrued", AccountKind.LIABILITY), ("sales", AccountKind.INCOME)):
        book.add_account(Account(account_id, account_id.title(), kind, FROZEN, FROZEN))
    return book


def lines(*spec):
    return [NewLine(account, side, Decimal(amount)) for account, side, amount in spec]


@pytest.mark.parametrize("raw, expected", [("1000", "1000.00"), ("0.01", "0.01"), ("12.5", "12.50"),
                                           (Decimal("1.100"), "1.10"), (7, "7.00"), ("9999999999999.99", "9999999999999.99")])
def test_amounts_keep_their_exact_value(raw, expected):
    assert format_amount(parse_amount(raw)) == expected


@pytest.mark.parametrize("raw, problem", [("1.005", "at most 2 decimal"), (Decimal("0.001"), "at most 2 decimal"),
                                          ("0", "greater than 0"), ("-5", "greater than 0"), ("abc", "decimal amount"),
                                          (1.5, "decimal amount"), ("1e13", "less than 10^13"), (Decimal("2.8e150"), "less than 10^13"),
                                          (Decimal("-1e300"), "less than 10^13"), (True, "decimal amount"),
                                          ("NaN", "decimal amount")])
def test_amounts_are_refused_never_rounded(raw, problem):
    with pytest.raises(InvalidAmount, match=re.escape(problem)):
        parse_amount(raw)


def test_balanced_entry_posts_and_moves_balances(book):
    entry = book.add_entry(on=date(2025, 1, 31), memo="Accrue rent",
                           lines=lines(("rent", D, "1000.00"), ("accrued", C, "600.00"), ("accrued", C, "400.00")))
    assert entry.total_debit == entry.total_credit == Decimal("1000.00")
    assert book.balance("rent") == Decimal("1000.00")
    assert book.balance("accrued") == Decimal("-1000.00")
    assert book.trial_balance() == 0


@pytest.mark.parametrize("spec, error, message", [
    ([("rent", D, "10")], InvalidEntry, "at least 2 lines"),
    ([("rent", D, "10"), ("cash", D, "10")], InvalidEntry, "one debit line and one credit"),
    ([("rent", D, "10.00"), ("cash", C, "9.99")], Unbalanced, "debits 10.00, credits 9.99"),
    ([("rent", D, "10.001"), ("cash", C, "10.001")], InvalidAmount, "2 decimal"),
    ([("rent", D, "0"), ("cash", C, "0")], InvalidAmount, "greater than 0"),
    ([("nope", D, "10"), ("cash", C, "10")], UnknownReference, "nope"),
])
def test_rule_violations_store_nothing(book, spec, error, message):
    with pytest.raises(error, match=message):
        book.add_entry(on=date(2025, 1, 31), memo="x", lines=lines(*spec))
    assert book.entries == {} and book.trial_balance() == 0 and book.balance("rent") == 0


def test_accounts_of_another_book_cannot_be_used(book):
    other = Book("t2", clock=Clock(FROZEN), ids=IdGenerator(1))
    other.add_account(Account("elsewhere", "Elsewhere", AccountKind.ASSET, FROZEN, FROZEN))
    with pytest.raises(UnknownReference):
        book.add_entry(on=date(2025, 1, 1), memo="x", lines=lines(("elsewhere", D, "1"), ("cash", C, "1")))


def test_inactive_accounts_take_no_new_postings(book):
    book.update_account("cash", active=False)
    with pytest.raises(UnknownReference):
        book.add_entry(on=date(2025, 1, 1), memo="x", lines=lines(("rent", D, "1"), ("cash", C, "1")))


def test_update_replaces_lines_and_rebalances(book):
    entry = book.add_entry(on=date(2025, 1, 31), memo="x", lines=lines(("rent", D, "10"), ("cash", C, "10")))
    book.update_entry(entry.id, lines=lines(("rent", D, "25"), ("accrued", C, "25")))
    assert book.balance("cash") == 0 and book.balance("accrued") == Decimal("-25.00")
    with pytest.raises(Unbalanced):
        book.update_entry(entry.id, lines=lines(("rent", D, "25"), ("accrued", C, "20")))
    assert book.entry(entry.id).total_debit == Decimal("25.00")  # the refused update left it untouched
    book.delete_entry(entry.id)
    assert book.trial_balance() == 0 and book.balance("rent") == 0
    with pytest.raises(NotFound):
        book.entry(entry.id)


def test_unposted_entries_do_not_move_balances(book):
    book.add_entry(on=date(2025, 1, 31), memo="draft", lines=lines(("rent", D, "10"), ("cash", C, "10")),
                   status="draft", posted=False)
    assert book.balance("rent") == 0


DRAFTS = Workflow(transitions={("draft", "post"): "posted", ("draft", "park"): "parked",
                               ("parked", "post"): "posted"},
                  posted=frozenset({"posted"}), drafts=frozenset({"draft", "parked"}))


def test_a_draft_may_be_incomplete_until_it_leaves_the_drafts(book):
    """Work in progress: unbalanced, one-sided, on an inactive account; the rules apply when it leaves the drafts."""
    book.update_account("accrued", active=False)
    draft = book.add_entry(on=date(2025, 1, 31), memo="wip", lines=lines(("rent", D, "10"), ("accrued", C, "9")),
                           status="draft", posted=False, draft=True)
    one_sided = book.update_entry(draft.id, lines=lines(("rent", D, "10"), ("cash", D, "10")))
    assert one_sided.draft and book.transition(draft.id, DRAFTS, "park").draft  # draft to draft: still unchecked
    with pytest.raises(InvalidEntry):
        book.transition(draft.id, DRAFTS, "post")
    assert book.entry(draft.id).status == "parked" and book.balance("rent") == 0
    with pytest.raises(UnknownReference):  # even a draft names accounts that exist
        book.update_entry(draft.id, lines=lines(("nowhere", D, "10")))
    with pytest.raises(InvalidAmount):
        book.add_entry(on=date(2025, 1, 31), memo="wip", lines=lines(("rent", D, "-1")), status="draft",
                       posted=False, draft=True)


def test_a_completed_draft_posts_and_is_held_to_the_rules_from_then_on(book):
    draft = book.add_entry(on=date(2025, 1, 31), memo="wip", lines=lines(("rent", D, "10")), status="draft",
                           posted=False, draft=True)
    book.update_entry(draft.id, lines=lines(("rent", D, "10"), ("cash", C, "10")))
    posted = book.transition(draft.id, DRAFTS, "post")
    assert (posted.status, posted.posted, posted.draft) == ("posted", True, False)
    assert book.balance("rent") == Decimal("10.00") and book.trial_balance() == 0
    with pytest.raises(Unbalanced):
        book.update_entry(draft.id, lines=lines(("rent", D, "10"), ("cash", C, "9")))
    with pytest.raises(ValueError):  # a draft never counts in balances
        book.add_entry(on=date(2025, 1, 31), memo="x", lines=lines(("rent", D, "1")), draft=True)


def test_closed_period_needs_override(book):
    book.closed_through = date(2024, 12, 31)
    with pytest.raises(PeriodClosed, match="2024-12-31"):
        book.add_entry(on=date(2024, 12, 31), memo="x", lines=lines(("rent", D, "1"), ("cash", C, "1")))
    entry = book.add_entry(on=date(2024, 12, 31), memo="x", lines=lines(("rent", D, "1"), ("cash", C, "1")),
                           allow_closed_period=True)
    with pytest.raises(PeriodClosed):
        book.update_entry(entry.id, on=date(2025, 1, 2))
    book.add_entry(on=date(2025, 1, 1), memo="open", lines=lines(("rent", D, "1"), ("cash", C, "1")))


def test_used_accounts_cannot_be_removed(book):
    entry = book.add_entry(on=date(2025, 1, 31), memo="x", lines=lines(("rent", D, "10"), ("cash", C, "10")))
    with pytest.raises(DeleteBlocked):
        book.remove_account("rent")
    book.delete_entry(entry.id)
    book.remove_account("rent")
    assert "rent" not in book.accounts


def test_transactions_post_once_categorised(book):
    t = book.add_transaction(account_id="cash", amount=Decimal("50"), flow=Flow.EXPENSE, on=date(2025, 1, 2))
    assert book.balance("cash") == 0
    book.update_transaction(t.id, category_account_id="rent")
    assert book.balance("cash") == Decimal("-50.00") and book.balance("rent") == Decimal("50.00")
    income = book.add_transaction(account_id="cash", amount=Decimal("80"), flow=Flow.INCOME, on=date(2025, 1, 3),
                                  category_account_id="sales")
    assert book.balance("cash") == Decimal("30.00") and book.trial_balance() == 0
    book.delete_transaction(income.id)
    assert book.balance("sales") == 0


def test_pages_come_newest_first_with_filters(book):
    for day in (3, 1, 2, 2):
        book.add_entry(on=date(2025, 1, day), memo=f"day {day}", lines=lines(("rent", D, "1"), ("cash", C, "1")))
    page, total = book.entries_page(limit=3)
    assert total == 4 and [e.date.day for e in page] == [3, 2, 2]
    assert page[1].seq > page[2].seq  # same date: the later creation first
    page, total = book.entries_page(offset=3, limit=3)
    assert total == 4 and [e.date.day for e in page] == [1]
    page, total = book.entries_page(start=date(2025, 1, 2), end=date(2025, 1, 2))
    assert total == 2 and {e.date.day for e in page} == {2}
    page, total = book.entries_page(match=lambda e: e.memo == "day 1")
    assert total == 1 and page[0].memo == "day 1"
    assert book.entries_page(offset=10)[0] == []


def test_concurrent_writers_lose_nothing(book):
    def write(worker):
        for i in range(200):
            book.add_entry(on=date(2025, 1, 1 + i % 28), memo=f"{worker}-{i}",
                           lines=lines(("rent", D, "1.01"), ("cash", C, "1.01")))
    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(book.entries) == 1600 and len({e.memo for e in book.entries.values()}) == 1600
    assert book.entries_page(limit=1)[1] == 1600
    assert book.balance("rent") == Decimal("1616.00") and book.trial_balance() == 0


def test_entries_keep_their_history_past_deletion(book):
    from datetime import timedelta

    from mock_server.ledger import InvalidTransition, Workflow

    flow = Workflow({("draft", "approve"): "approved"}, frozenset({"approved"}))
    entry = book.add_entry(on=date(2025, 1, 31), memo="x", lines=lines(("rent", D, "10"), ("cash", C, "10")),
                           status="draft", posted=False)
    book.clock.advance(timedelta(minutes=1))
    book.update_entry(entry.id, memo="y")
    with pytest.raises(Unbalanced):  # a refused change leaves no trace
        book.update_entry(entry.id, lines=lines(("rent", D, "25"), ("accrued", C, "20")))
    book.transition(entry.id, flow, "approve")
    with pytest.raises(InvalidTransition):
        book.transition(entry.id, flow, "approve")
    book.clock.advance(timedelta(minutes=1))
    book.delete_entry(entry.id)
    history = book.history(entry.id)
    assert [(e.what, e.status) for e in history] == [("created", "draft"), ("updated", "draft"),
                                                     ("approve", "approved"), ("deleted", "approved")]
    assert [e.at - FROZEN for e in history] == [timedelta(0), timedelta(minutes=1), timedelta(minutes=1),
                                                timedelta(minutes=2)]
    history.clear()  # a copy: the caller cannot rewrite the book's record
    assert len(book.history(entry.id)) == 4 and book.history("nope") == []


def test_a_two_line_count_entry_costs_its_book_under_1_5_kb():
    """Issue 20: a COUNT server holds 100k two-line entries (one of them on the bank, so also a transaction
    row) in <= 250 MiB, its start-up's 55 included. What the workspace keeps per entry, made through the API: once
    1,980 bytes, a third of it a dozen empty fields on every journal's transaction row, a second Decimal for its
    amount, and indexes no COUNT query reads (1,400 now)."""
    from mock_server.app import create_app
    from mock_server.config import Config
    from tests.count.conftest import CountClient
    from tests.memory import bytes_kept_per_entry

    count = CountClient(create_app(Config(providers=("count",), rate_limiting=False, frozen_time=FROZEN)))

    def grow(numbers):
        rows = [{"descriptionEntry": f"Entry {i}", "date": f"2025-{1 + i % 10:02d}-{1 + i % 28:02d}",
                 "refNumber": f"S-{i}", "lines": [{"accountUuid": "a0000000-0000-4000-8000-000000006000",
                                                   "amountDebit": f"{1 + i}.{i % 100:02d}"},
                                                  {"accountUuid": "a0000000-0000-4000-8000-000000001000",
                                                   "amountCredit": f"{1 + i}.{i % 100:02d}"}]} for i in numbers]
        for start in range(0, len(rows), 100):
            answer = count.post("/journal-entries/bulk", {"journalEntries": rows[start:start + 100]})
            assert answer.status_code == 201 and answer.get_json()["data"]["errorCount"] == 0

    per_entry, sites = bytes_kept_per_entry("count", grow, 1000)
    assert per_entry <= 1500, f"{per_entry:.0f} bytes an entry; by line:\n{sites}"


def test_records_come_back_from_a_checkpoint_equal_frozen_and_sharing_what_they_shared(book):
    """A checkpoint (checkpoint.py) pickles the books; a record comes back as its own class, equal, still
    refusing changes, and sharing the objects it shared (the attrs of records that have none, a line's Decimal)."""
    import dataclasses
    import pickle

    entry = book.add_entry(on=date(2025, 1, 2), memo="rent", lines=lines(("rent", D, "5.00"), ("cash", C, "5.00")))
    book.add_transaction(account_id="cash", amount=Decimal("7.00"), flow=Flow.EXPENSE, on=date(2025, 1, 3),
                         category_account_id="rent", attrs={"notes": "n"})
    records = (book.entries, book.transactions, book.accounts, book.entry_index("date").keys)
    entries, transactions, accounts, by_date = pickle.loads(pickle.dumps(records, protocol=5))
    again = entries[entry.id]
    assert type(again) is type(entry) and again == entry and hash(again) == hash(entry)
    assert again.attrs is entry.attrs and again.lines[0].amount is again.lines[1].amount
    assert [type(line) for line in again.lines] == [type(line) for line in entry.lines]
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.memo = "changed"  # type: ignore[misc]
    assert (transactions, accounts) == (book.transactions, book.accounts)
    assert [key[-1] for key in by_date][0] is again  # the very record, not a copy of it
