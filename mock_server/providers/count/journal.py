"""COUNT's journal entries: list, create (one or in bulk), update (including draft -> posted), delete."""

from __future__ import annotations

from typing import Any, Mapping

from ...errors import validation_error
from ...ledger import NotEditable
from .. import Call, Reply, handles
from ..marshal import load
from . import wire
from .common import CountHandlers, success
from .state import Workspace, sync_journal_transactions


class JournalEntryHandlers(CountHandlers):
    @handles("listJournalEntries")
    def list_journal_entries(self, call: Call) -> Reply:
        ws, q = call.tenant, call.query
        page, limit = q.get("page", 1), q.get("limit", 25)
        search = (q.get("search") or "").lower()

        def match(entry: Any) -> bool:  # a plain loop: this runs for every entry of the book
            if search in entry.memo.lower() or search in (entry.reference or "").lower():
                return True
            for line in entry.lines:
                if line.memo and search in line.memo.lower():
                    return True
            return False
        entries, total = ws.book.entries_page(start=q.get("startDate"), end=q.get("endDate"),
                                              match=match if search else None,
                                              offset=(page - 1) * limit, limit=limit)
        version = ws.book.accounts_version  # lines show their account's name
        encoded = [ws.wire.encoded(e.id, e, version, lambda e=e: wire.entry_out(e, ws.book)) for e in entries]
        return success(200, {"journalEntries": encoded, "totalRecords": total, "page": page, "limit": limit},
                       "Journal entries fetched.")

    @handles("createJournalEntry")
    def create_journal_entry(self, call: Call) -> Reply:
        entry = self._create_entry(call.tenant, call.body)
        return success(201, wire.entry_out(entry, call.tenant.book), "Journal entry created.")

    @handles("bulkCreateJournalEntries")
    def bulk_create_journal_entries(self, call: Call) -> Reply:
        return self._bulk(call, "journalEntries", "journalEntry", "createJournalEntry",
                          lambda row: [wire.line_out(line, entry, call.tenant.book)
                                       for entry in [self._create_entry(call.tenant, row)] for line in entry.lines])

    def _create_entry(self, ws: Workspace, body: Mapping[str, Any]) -> Any:
        fields = load(wire.EntryIn, body)
        caution = bool(fields.get("with_caution"))
        status = fields.get("status") or "posted"
        with ws.lock:
            entry = ws.book.add_entry(on=fields["on"], memo=fields["memo"], lines=wire.new_lines(fields["lines"]),
                                      reference=fields.get("reference"), attrs=wire.entry_attrs(fields),
                                      allow_closed_period=caution, status=status,
                                      posted=status in wire.ENTRY_WORKFLOW.posted)
            sync_journal_transactions(ws.book, None, entry)
        return entry

    @handles("updateJournalEntry")
    def update_journal_entry(self, call: Call) -> Reply:
        ws = call.tenant
        fields = load(wire.EntryIn, call.body, partial=True)
        if not fields:
            raise validation_error("Send at least one of `descriptionEntry`, `date`, `refNumber`, `withCaution`, "
                                   "`lines`, `status`.")
        with ws.lock:
            entry = ws.book.entry(self._id(call, "Journal entry"))
            if not entry.editable:
                raise NotEditable("Journal entry is not editable.")
            status = fields.pop("status", None) or entry.status
            if status != entry.status:
                wire.ENTRY_WORKFLOW.next(entry.status, status)  # refused before anything is written
            caution = fields.get("with_caution")
            caution = bool(entry.attrs.get("withCaution")) if caution is None else caution
            changes: dict[str, Any] = {"attrs": {**entry.attrs, "withCaution": caution}}
            if "on" in fields:
                changes["on"] = fields["on"]
            if "memo" in fields:
                if fields["memo"] is None:
                    raise validation_error("`descriptionEntry` cannot be null.")
                changes["memo"] = fields["memo"]
            if "reference" in fields:
                changes["reference"] = fields["reference"]
            if "lines" in fields:
                if fields["lines"] is None:
                    raise validation_error("`lines` cannot be null.")
                changes["lines"] = wire.new_lines(fields["lines"])
            updated = ws.book.update_entry(entry.id, allow_closed_period=caution, **changes)
            if status != entry.status:
                updated = ws.book.transition(entry.id, wire.ENTRY_WORKFLOW, status)
            sync_journal_transactions(ws.book, entry, updated)
        return success(200, wire.entry_out(updated, ws.book), "Journal entry updated.")

    @handles("deleteJournalEntry")
    def delete_journal_entry(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            entry = ws.book.entry(self._id(call, "Journal entry"))
            if not entry.editable:
                raise NotEditable("Journal entry is not editable.")
            ws.book.delete_entry(entry.id, allow_closed_period=bool(entry.attrs.get("withCaution")))
            sync_journal_transactions(ws.book, entry, None)
        return success(200, {"id": entry.id}, "Journal entry deleted.")
