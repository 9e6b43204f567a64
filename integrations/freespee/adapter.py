"""The portal's domain operations at a Freespee partner account.

Customers and sources only: numbers are not Freespee's, so the number
operations keep raising `NotSupportedError` from the base class.

German customers: the customers resource says partners operating in Germany
must follow a separate note on creating customers; that note is not part of our
copy of the documentation. We follow the contract the portal was given: a
customer is German when its `country` is `DE` or `DEU` (the portal stores ISO
3166 alpha-3), and then custom fields 1 to 6 must hold values; the adapter
refuses the create or update with field errors before anything is sent.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.contract import (
    AccountConfig,
    Adapter,
    CustomerRecord,
    Ping,
    Provider,
    Recorder,
    SourceRecord,
)
from integrations.errors import PermanentError
from integrations.freespee.client import MAX_PAGESIZE, FreespeeClient, Page
from integrations.http import Gate
from integrations.phone import InvalidPhoneNumber, for_provider, from_provider

GERMAN_COUNTRIES = frozenset({"DE", "DEU"})
GERMAN_CUSTOM_FIELDS = range(1, 7)
CUSTOM_FIELDS = range(1, 21)
# A source in these states no longer answers calls and holds no natural key.
ENDED_STATUSES = frozenset({"quarantined", "archived"})
# National numbers Freespee returns are Swedish (getting started: 0890510 -> +46890510).
FREESPEE_REGION = "SE"


@dataclass(frozen=True)
class CallRecord:
    """One call to a tracking number, from Freespee's /statistics/cdrs."""

    cdr_id: str
    customer_remote_id: str
    source_remote_id: str
    start: datetime
    duration_seconds: int
    answered: bool
    caller: str
    destnr: str
    phonenr: str


def _e164(raw: str | None) -> str:
    # A removed customer's numbers come back scrubbed to "+468*****"
    # (customers resource, DELETE); keep what Freespee says rather than fail.
    if not raw:
        return ""
    try:
        return from_provider(raw, FREESPEE_REGION)
    except InvalidPhoneNumber:
        return raw


def customer_from_freespee(customer: dict[str, Any]) -> CustomerRecord:
    """A Freespee customer (typed by the client) as a portal record."""
    return CustomerRecord(
        custnr=customer.get("custnr", ""),
        name=customer.get("name", ""),
        email=customer.get("email") or "",
        corporateid=customer.get("corporateid") or "",
        custom_fields={
            number: customer[f"custom_{number}"]
            for number in CUSTOM_FIELDS
            if customer.get(f"custom_{number}")
        },
        receive_monthly_report=customer.get("receive_monthly_report") or 0,
        freespee_caller_id=bool(customer.get("freespee_caller_id")),
        remote_id=str(customer["customer_id"]),
    )


def source_from_freespee(source: dict[str, Any]) -> SourceRecord:
    """A Freespee source (typed by the client) as a portal record."""
    return SourceRecord(
        customer_remote_id=str(source["customer_id"]),
        name=source.get("name", ""),
        media=source.get("media", ""),
        phonenr=_e164(source.get("phonenr")),
        activation=source.get("timestamp"),
        expire=source.get("expire"),
        source_class=source.get("class") or 0,
        notify_on_missed_call=bool(source.get("notify_on_missed_call")),
        vm_divert_all=bool(source.get("vm_divert_all")),
        vm_divert_busy=bool(source.get("vm_divert_busy")),
        vm_divert_noanswer=bool(source.get("vm_divert_noanswer")),
        remote_id=str(source["source_id"]),
        destnr=_e164(source.get("destnr")),
        status=source.get("status", ""),
    )


def _check_german(record: CustomerRecord) -> None:
    if record.country.strip().upper() not in GERMAN_COUNTRIES:
        return
    missing = {
        f"custom_{number}": [
            f"custom_{number} is required for customers in Germany (custom fields 1 to 6)."
        ]
        for number in GERMAN_CUSTOM_FIELDS
        if not (record.custom_fields.get(number) or "").strip()
    }
    if missing:
        raise PermanentError(
            "Freespee needs custom fields 1 to 6 for customers in Germany: "
            + ", ".join(missing)
            + " missing.",
            field_errors=missing,
        )


def _remote_id(record: CustomerRecord | SourceRecord) -> str:
    if not record.remote_id:
        raise PermanentError("The record has no Freespee id to update.")
    return record.remote_id


class FreespeeAdapter(Adapter):
    """Customers and sources at one Freespee partner account."""

    provider = Provider.FREESPEE

    def __init__(
        self, config: AccountConfig, recorder: Recorder | None = None, gate: Gate | None = None
    ) -> None:
        self.client = FreespeeClient(config, recorder=recorder, gate=gate)

    def ping(self) -> Ping:
        """Check the credentials (and the allow-listed IP) with /miscellaneous/ping."""
        started = time.monotonic()
        answer = self.client.ping()
        latency_ms = round((time.monotonic() - started) * 1000)
        return Ping(ok=answer.get("ping") == "ok", latency_ms=latency_ms, detail=str(answer))

    # --- customers -----------------------------------------------------------------

    @staticmethod
    def _customer_fields(record: CustomerRecord, *, clear_custom: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "name": record.name,
            "custnr": record.custnr,
            "email": record.email,
            "corporateid": record.corporateid,
            "receive_monthly_report": record.receive_monthly_report,
            "freespee_caller_id": record.freespee_caller_id,
        }
        for number in CUSTOM_FIELDS:
            value = record.custom_fields.get(number, "")
            # An update sends every custom field so one emptied in the portal is
            # emptied at Freespee too; a create sends only those set, since a
            # field Freespee has not set up cannot hold data (customers, POST *).
            if value or clear_custom:
                fields[f"custom_{number}"] = value
        return fields

    def customer_create(self, record: CustomerRecord) -> CustomerRecord:
        """POST /customers; `custnr` is the natural key."""
        _check_german(record)
        created = self.client.customer_create(self._customer_fields(record, clear_custom=False))
        return customer_from_freespee(created)

    def customer_update(self, record: CustomerRecord) -> CustomerRecord:
        """PUT /customers/{customer_id} with the whole desired state."""
        _check_german(record)
        fields = self._customer_fields(record, clear_custom=True)
        return customer_from_freespee(self.client.customer_update(_remote_id(record), fields))

    def customer_delete(self, remote_id: str) -> None:
        """DELETE /customers/{customer_id}: removed at Freespee, its sources expired."""
        self.client.customer_delete(remote_id)

    def customer_get(self, remote_id: str) -> CustomerRecord:
        """GET /customers/{customer_id}."""
        return customer_from_freespee(self.client.customer_get(remote_id))

    def customer_find(self, custnr: str) -> CustomerRecord | None:
        """The live customer with this custnr, or None."""
        page = self.client.customers_list(page=0, pagesize=MAX_PAGESIZE, custnr=custnr)
        for customer in page.records:
            if customer.get("custnr") == custnr:
                return customer_from_freespee(customer)
        return None

    def customer_list(self) -> Iterator[CustomerRecord]:
        """Every live customer, fetched lazily a page of 1000 at a time."""
        for customer in self._pages(self.client.customers_list):
            yield customer_from_freespee(customer)

    # --- sources -----------------------------------------------------------------

    @staticmethod
    def _source_fields(record: SourceRecord) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "name": record.name,
            "media": record.media,
            "phonenr": for_provider(record.phonenr, Provider.FREESPEE),
            "class": record.source_class,
            "notify_on_missed_call": record.notify_on_missed_call,
            "vm_divert_all": record.vm_divert_all,
            "vm_divert_busy": record.vm_divert_busy,
            "vm_divert_noanswer": record.vm_divert_noanswer,
            # Empty clears an expiry; no expiry means the source runs until ended.
            "expire": record.expire,
        }
        # Without a timestamp Freespee activates the source at once (getting started).
        if record.activation is not None:
            fields["timestamp"] = record.activation
        return fields

    def source_create(self, record: SourceRecord) -> SourceRecord:
        """POST /sources: Freespee allocates the tracking number (destnr)."""
        fields = {"customer_id": record.customer_remote_id, **self._source_fields(record)}
        if record.expire is None:
            del fields["expire"]
        return source_from_freespee(self.client.source_create(fields))

    def source_update(self, record: SourceRecord) -> SourceRecord:
        """PUT /sources/{source_id} with the whole desired state."""
        updated = self.client.source_update(_remote_id(record), self._source_fields(record))
        return source_from_freespee(updated)

    def source_delete(self, remote_id: str) -> None:
        """DELETE /sources/{source_id}: the source goes into quarantine."""
        self.client.source_delete(remote_id)

    def source_get(self, remote_id: str) -> SourceRecord:
        """GET /sources/{source_id}."""
        return source_from_freespee(self.client.source_get(remote_id))

    def source_find(self, customer_remote_id: str, name: str, media: str) -> SourceRecord | None:
        """The customer's source with this name and media that has not ended, or None."""
        page = self.client.sources_list(
            page=0, pagesize=MAX_PAGESIZE, customer_id=customer_remote_id, name=name, media=media
        )
        for source in page.records:
            if source.get("status") not in ENDED_STATUSES:
                return source_from_freespee(source)
        return None

    def source_list(self, customer_remote_id: str | None = None) -> Iterator[SourceRecord]:
        """Every source (of one customer, if given), fetched lazily a page of 1000 at a time."""
        filters = {"customer_id": customer_remote_id} if customer_remote_id else {}
        for source in self._pages(self.client.sources_list, **filters):
            yield source_from_freespee(source)

    # --- statistics ----------------------------------------------------------------

    def cdrs(self, customer_remote_id: str, start: datetime, end: datetime) -> Iterator[CallRecord]:
        """The customer's calls between start and end (UTC), fetched lazily page by page."""
        page_number = 0
        while True:
            page = self.client.cdrs(customer_remote_id, start, end, page=page_number)
            for call in page.records:
                yield CallRecord(
                    cdr_id=str(call["cdr_id"]),
                    customer_remote_id=str(call["customer_id"]),
                    source_remote_id=str(call["source_id"]),
                    start=call["start"],
                    duration_seconds=call.get("duration") or 0,
                    answered=bool(call.get("answered")),
                    caller=call.get("anum") or "",
                    destnr=_e164(call.get("destnr")),
                    phonenr=_e164(call.get("phonenr")),
                )
            if page.is_last or not page.records:
                return
            page_number += 1

    @staticmethod
    def _pages(fetch: Any, **filters: Any) -> Iterator[dict[str, Any]]:
        page_number = 0
        while True:
            page: Page = fetch(page=page_number, pagesize=MAX_PAGESIZE, **filters)
            yield from page.records
            if page.is_last or not page.records:
                return
            page_number += 1
