"""What the handlers of every COUNT resource share: COUNT's success envelope, path ids, bulk rows, account
references. The handlers themselves live by resource (oauth, journal, transactions, accounts, directory), each a
mixin of `CountProvider`, which registers them all as one provider."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ...errors import ApiError
from ...ledger import LedgerError, NotFound, UnknownReference
from .. import Call, Reply
from .state import Workspace

if TYPE_CHECKING:
    from ...clock import Clock, IdGenerator
    from ...spec import Spec
    from .state import CountState

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def success(status: int, data: Any, message: str) -> Reply:
    return status, {"status": "success", "message": message, "data": data}


class CountHandlers:
    """The provider's parts a resource's handlers use (CountProvider has them all)."""

    state: CountState
    spec: Spec
    clock: Clock
    ids: IdGenerator

    def _bulk(self, call: Call, list_key: str, row_key: str, single_operation: str,
              create: Callable[[Mapping[str, Any]], Any]) -> Reply:
        """Rows succeed or fail one by one, each with the single call's rules and message; always 201."""
        validate_row = self.spec.operations[single_operation].check_body
        results = []
        for index, row in enumerate(call.body[list_key]):
            try:
                validate_row(row)
                results.append({"index": index, "success": True, row_key: create(row)})
            except (ApiError, LedgerError) as error:
                results.append({"index": index, "success": False, "error": error.message})
        succeeded = sum(1 for r in results if r["success"])
        return success(201, {"successCount": succeeded, "errorCount": len(results) - succeeded,
                             "results": results}, f"{succeeded} of {len(results)} rows created.")

    @staticmethod
    def _id(call: Call, label: str) -> str:
        """Path ids that are not UUIDs cannot exist: 404, like an unknown one."""
        identifier = call.path["id"]
        if not UUID.match(identifier):
            raise NotFound(f"{label} not found.")
        return identifier

    @staticmethod
    def _account_ref(ws: Workspace, account_id: str, field: str) -> Any:
        try:
            return ws.book.usable_account(account_id)
        except UnknownReference:
            raise UnknownReference(f"Account not found: `{field}` {account_id}.") from None
