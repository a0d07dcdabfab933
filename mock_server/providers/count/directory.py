"""COUNT's directory: vendors, customers and tags, kept beside the books and referenced by transactions."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ...errors import validation_error
from ...ledger import DeleteBlocked, Duplicate, NotFound
from .. import Call, Reply, handles
from . import wire
from .common import CountHandlers, success
from .state import Workspace


def _warn_vendor_alias(call: Call, body: Mapping[str, Any]) -> None:
    if body.get("name") is not None and body.get("vendor") not in (None, body["name"]):
        call.warn("body field `vendor` was ignored: `name` was sent too, and wins")


class DirectoryHandlers(CountHandlers):
    @handles("listVendors")
    def list_vendors(self, call: Call) -> Reply:
        return self._list_directory(call, "vendors", "name", lambda r, s: s in r["name"].lower()
                                    or s in (r.get("email") or "").lower())

    @handles("createVendor")
    def create_vendor(self, call: Call) -> Reply:
        body = call.body
        name = body.get("name") or body.get("vendor")
        if not name:
            raise validation_error("`name` is required.")
        _warn_vendor_alias(call, body)
        record = self._add(call.tenant.vendors, {"name": name, "email": body.get("email")})
        return success(201, self._vendor_out(record), "Vendor created.")

    @handles("updateVendor")
    def update_vendor(self, call: Call) -> Reply:
        _warn_vendor_alias(call, call.body)
        if call.body.get("name") is None and call.body.get("vendor") is not None:  # the alias, as on create
            call.body = {**call.body, "name": call.body["vendor"]}
        record = self._update(call, "vendors", "Vendor", ("name", "email"))
        return success(200, self._vendor_out(record), "Vendor updated.")

    @handles("deleteVendor")
    def delete_vendor(self, call: Call) -> Reply:
        return self._delete_party(call, "vendors", "Vendor", "vendorUuid")

    @handles("listCustomers")
    def list_customers(self, call: Call) -> Reply:
        return self._list_directory(call, "customers", "customer", lambda r, s: s in r["customer"].lower()
                                    or s in (r.get("email") or "").lower())

    @handles("createCustomer")
    def create_customer(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            self._check_customer_email(ws, call.body.get("email"), None)
            record = self._add(ws.customers, self._customer_fields(call.body))
        return success(201, self._customer_out(record), "Customer created.")

    @handles("getCustomer")
    def get_customer(self, call: Call) -> Reply:
        return success(200, self._customer_out(self._record(call, "customers", "Customer")), "Customer fetched.")

    @handles("updateCustomer")
    def update_customer(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            record = self._record(call, "customers", "Customer")
            self._check_customer_email(ws, call.body.get("email"), record["id"])
            changes = {k: v for k, v in self._customer_fields(call.body).items() if k in call.body}
            record = {**record, **changes, "updatedAt": self.clock.now()}
            ws.customers[record["id"]] = record
        return success(200, self._customer_out(record), "Customer updated.")

    @handles("deleteCustomer")
    def delete_customer(self, call: Call) -> Reply:
        return self._delete_party(call, "customers", "Customer", "customerUuid")

    @handles("listTags")
    def list_tags(self, call: Call) -> Reply:
        return self._list_directory(call, "tags", "name", lambda r, s: r["name"].lower().startswith(s))

    @handles("createTag")
    def create_tag(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            self._check_tag_name(ws, call.body["name"], None)
            record = self._add(ws.tags, {"name": call.body["name"], "color": call.body.get("color")})
        return success(201, self._tag_out(record), "Tag created.")

    @handles("getTag")
    def get_tag(self, call: Call) -> Reply:
        return success(200, self._tag_out(self._record(call, "tags", "Tag")), "Tag fetched.")

    @handles("updateTag")
    def update_tag(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            if call.body.get("name") is not None:
                self._check_tag_name(ws, call.body["name"], self._id(call, "Tag"))
            record = self._update(call, "tags", "Tag", ("name", "color"))
        return success(200, self._tag_out(record), "Tag updated.")

    @handles("deleteTag")
    def delete_tag(self, call: Call) -> Reply:
        ws = call.tenant
        with ws.lock:
            record = self._record(call, "tags", "Tag")
            del ws.tags[record["id"]]
            for transaction in list(ws.book.transactions.values()):  # deleting a tag detaches it
                if record["id"] in (transaction.attrs.get("tagUuids") or ()):
                    tags = tuple(t for t in transaction.attrs["tagUuids"] if t != record["id"])
                    ws.book.update_transaction(transaction.id, attrs={**transaction.attrs, "tagUuids": tags})
        return success(200, {"id": record["id"]}, "Tag deleted.")

    def _list_directory(self, call: Call, kind: str, name_key: str,
                        matches: Callable[[Mapping[str, Any], str], bool]) -> Reply:
        ws, q = call.tenant, call.query
        page, limit = q.get("page", 1), q.get("limit", 25)
        search = (q.get("search") or "").lower()
        with ws.lock:
            records = [r for r in getattr(ws, kind).values() if not search or matches(r, search)]
        records.sort(key=lambda r: (r[name_key].lower(), r["id"]))
        out = getattr(self, f"_{kind[:-1]}_out")
        return success(200, {kind: [out(r) for r in records[(page - 1) * limit: page * limit]],
                             "totalRecords": len(records), "page": page, "limit": limit}, f"{kind.title()} fetched.")

    def _add(self, directory: dict[str, dict[str, Any]], fields: Mapping[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        record = {"id": self.ids.uuid(), **fields, "createdAt": now, "updatedAt": now}
        directory[record["id"]] = record
        return record

    def _record(self, call: Call, kind: str, label: str) -> dict[str, Any]:
        record = getattr(call.tenant, kind).get(self._id(call, label))
        if record is None:
            raise NotFound(f"{label} not found.")
        return record

    def _update(self, call: Call, kind: str, label: str, keys: Iterable[str]) -> dict[str, Any]:
        ws = call.tenant
        changes = {k: call.body[k] for k in keys if k in call.body}
        if not changes:
            raise validation_error(f"Send at least one of {', '.join(f'`{k}`' for k in keys)}.")
        if "name" in changes and not changes["name"]:
            raise validation_error("`name` cannot be empty.")
        with ws.lock:
            record = {**self._record(call, kind, label), **changes, "updatedAt": self.clock.now()}
            getattr(ws, kind)[record["id"]] = record
        return record

    def _delete_party(self, call: Call, kind: str, label: str, reference: str) -> Reply:
        ws = call.tenant
        with ws.lock:
            record = self._record(call, kind, label)
            if any(t.attrs.get(reference) == record["id"] for t in ws.book.transactions.values()):
                raise DeleteBlocked(f"Cannot delete: {label.lower()} is used by transactions.")
            del getattr(ws, kind)[record["id"]]
        return success(200, {"id": record["id"]}, f"{label} deleted.")

    @staticmethod
    def _customer_fields(body: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("customer", "email", "mainPhone", "website", "notes", "paymentTerm", "taxNumber",
                "billingAddress", "shippingAddress")
        fields = {k: body.get(k) for k in keys}
        fields["status"] = body.get("status") or "active"
        fields["contacts"] = [{k: c.get(k) for k in ("name", "email", "phone")} for c in body.get("contacts") or ()]
        return fields

    @staticmethod
    def _check_customer_email(ws: Workspace, email: str | None, own_id: str | None) -> None:
        if email and any((r.get("email") or "").lower() == email.lower() and r["id"] != own_id
                         for r in ws.customers.values()):
            raise Duplicate("Customer email already exists.")

    @staticmethod
    def _check_tag_name(ws: Workspace, name: str, own_id: str | None) -> None:
        if any(r["name"].lower() == name.lower() and r["id"] != own_id for r in ws.tags.values()):
            raise Duplicate("Tag name already exists.")

    @staticmethod
    def _vendor_out(r: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "name": r["name"], "email": r.get("email"), "createdAt": wire.timestamp(r["createdAt"]),
                "updatedAt": wire.timestamp(r["updatedAt"])}

    @staticmethod
    def _tag_out(r: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "name": r["name"], "color": r.get("color"), "createdAt": wire.timestamp(r["createdAt"]),
                "updatedAt": wire.timestamp(r["updatedAt"])}

    @staticmethod
    def _customer_out(r: Mapping[str, Any]) -> dict[str, Any]:
        def address(value: Any) -> Any:
            keys = ("street", "city", "state", "zipCode", "country")
            return None if value is None else {k: value.get(k) for k in keys}
        return {"id": r["id"], "customer": r["customer"],
                **{k: r.get(k) for k in ("email", "mainPhone", "website", "notes", "paymentTerm", "taxNumber")},
                "status": r.get("status") or "active",
                "contacts": [{k: c.get(k) for k in ("name", "email", "phone")} for c in r.get("contacts") or ()],
                "billingAddress": address(r.get("billingAddress")), "shippingAddress": address(r.get("shippingAddress")),
                "createdAt": wire.timestamp(r["createdAt"]), "updatedAt": wire.timestamp(r["updatedAt"])}
