"""The portal's domain operations on one sipgate account (one customer's web user).

sipgate's API manages what an account already has: its numbers, which
extension each rings, the outgoing number and DND of each extension, the
balance and SMS. Accounts and numbers themselves are ordered at sipgate, so
those operations raise `NotSupportedError` with the reason.
"""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.contract import (
    AccountConfig,
    Adapter,
    CustomerRecord,
    NumberRecord,
    Ping,
    Provider,
    Recorder,
)
from integrations.errors import NotFoundError, NotSupportedError, PermanentError
from integrations.http import Gate
from integrations.phone import InvalidPhoneNumber, for_provider, from_provider, parse_e164
from integrations.sipgate.client import SipgateClient

# sipgate numbers are German; a number typed nationally ("0211 …") is read as such.
REGION = "DE"
# POST events/sms: "The absolute maximum is 460 characters (equals 3 Messages)."
SMS_MAX_LENGTH = 460
SMS_PART_LENGTH = 160


@dataclass(frozen=True)
class SipgateExtension:
    """An extension of the account: its type, the numbers it rings, caller id and DND."""

    extension_id: str
    alias: str
    type: str
    incoming: tuple[str, ...] = ()
    outgoing: str = ""
    dnd: bool = False


@dataclass(frozen=True)
class SipgateBalance:
    """The account's balance."""

    currency: str
    total_including_vat: Decimal
    vat_percent: Decimal


@dataclass(frozen=True)
class SipgateDnd:
    """The DND state of one extension."""

    extension: str
    enabled: bool


@dataclass(frozen=True)
class SipgateSms:
    """An SMS handed to sipgate: one event id per 160-character part."""

    recipient: str
    content: str
    event_ids: tuple[str, ...]
    status: str

    @property
    def parts(self) -> int:
        return len(self.event_ids)


class SipgateAdapter(Adapter):
    """Numbers, extensions, DND, balance and SMS of one customer's sipgate account."""

    provider = Provider.SIPGATE

    def __init__(
        self,
        config: AccountConfig,
        recorder: Recorder | None = None,
        *,
        gate: Gate | None = None,
    ) -> None:
        self.config = config
        self.client = SipgateClient(config, recorder, gate=gate)

    def _client(self, customer_remote_id: str) -> SipgateClient:
        # The customer's remote id is its sipgate user id, or `my` until it is known.
        if not customer_remote_id or customer_remote_id == self.client.user_id:
            return self.client
        return self.client.as_user(customer_remote_id)

    def ping(self) -> Ping:
        """A cheap authenticated GET (the balance), timed."""
        started = time.monotonic()
        balance = self.client.balance()
        latency_ms = round((time.monotonic() - started) * 1000)
        detail = f"balance {balance.get('totalIncludingVat')} {balance.get('currency', '')}"
        return Ping(ok=True, latency_ms=latency_ms, detail=detail.strip())

    # Customers: one sipgate account per customer, opened at sipgate ------------------

    def customer_get(self, remote_id: str) -> CustomerRecord:
        """The sipgate web user: its real id (behind `my`) and base product type."""
        client = self._client(remote_id)
        user_id = client.user_id_resolve()
        return CustomerRecord(
            custnr="",
            name=self.config.username,
            remote_id=user_id,
            status=client.base_product_type(),
        )

    def customer_create(self, record: CustomerRecord) -> CustomerRecord:
        raise NotSupportedError(
            "sipgate accounts are opened at sipgate, not through its API; "
            "add the customer's sipgate login as a provider account instead."
        )

    def customer_update(self, record: CustomerRecord) -> CustomerRecord:
        raise NotSupportedError(
            "sipgate's API has no customer data to change; edit the account at sipgate."
        )

    def customer_delete(self, remote_id: str) -> None:
        raise NotSupportedError(
            "sipgate accounts are closed at sipgate, not through its API; "
            "remove the provider account from the portal instead."
        )

    # Numbers ------------------------------------------------------------------

    def number_list(self, customer_remote_id: str) -> Iterator[NumberRecord]:
        """Every number of the account, with the extension it rings, outgoing use and DND."""
        client = self._client(customer_remote_id)
        # Two requests whatever the count: the doc defines no paging for either list.
        numbers = client.numbers_list()
        extensions = {item["extensionId"]: item for item in client.extensions()}
        for number in numbers:
            yield _number_record(customer_remote_id, number, extensions)

    def number_find(self, customer_remote_id: str, e164: str) -> NumberRecord | None:
        """The account's number with the same digits, or None."""
        wanted = _digits(e164)
        for record in self.number_list(customer_remote_id):
            if _digits(record.e164) == wanted:
                return record
        return None

    def number_get(self, customer_remote_id: str, e164: str) -> NumberRecord:
        """The account's number, or NotFoundError."""
        record = self.number_find(customer_remote_id, e164)
        if record is None:
            raise NotFoundError(f"{e164} is not a number of this sipgate account.", status=404)
        return record

    def number_update(self, record: NumberRecord) -> NumberRecord:
        """Make the number its extension's outgoing number (or not) and set that extension's DND."""
        client = self._client(record.customer_remote_id)
        current = self.number_get(record.customer_remote_id, record.e164)
        extension = current.extension
        if record.extension and record.extension != extension:
            # Which extension a number rings is set at sipgate; the API only reads it.
            raise PermanentError(
                f"{record.e164} rings extension {extension or 'none'} at sipgate; "
                "its routing cannot be changed through the API.",
                field_errors={
                    "extension": [f"sipgate routes this number to {extension or 'no extension'}."]
                },
            )
        if not extension and (record.outgoing or record.dnd):
            raise PermanentError(
                f"{record.e164} rings no extension, so it has no outgoing use or DND to set.",
                field_errors={"extension": ["This number rings no extension at sipgate."]},
            )
        if record.outgoing != current.outgoing:
            # An empty outgoing number is allowed (Numbers.allowEmptyOadc): the
            # extension then calls without this number.
            number = for_provider(current.e164, Provider.SIPGATE) if record.outgoing else ""
            client.outgoing_number_set(extension, number)
        if record.dnd != current.dnd:
            # DND belongs to the extension: every number it rings follows.
            client.dnd_set(extension, record.dnd)
        return self.number_get(record.customer_remote_id, record.e164)

    def number_create(self, record: NumberRecord) -> NumberRecord:
        raise NotSupportedError(
            "sipgate numbers are ordered at sipgate, not through its API; "
            "order the number there, then reconcile to adopt it."
        )

    def number_delete(self, customer_remote_id: str, e164: str) -> None:
        raise NotSupportedError("sipgate numbers are cancelled at sipgate, not through its API.")

    # sipgate extras ------------------------------------------------------------

    def extensions(self, customer_remote_id: str = "") -> list[SipgateExtension]:
        """The account's extensions."""
        return [_extension(item) for item in self._client(customer_remote_id).extensions()]

    def balance(self, customer_remote_id: str = "") -> SipgateBalance:
        """The account's balance."""
        balance = self._client(customer_remote_id).balance()
        return SipgateBalance(
            currency=balance["currency"],
            total_including_vat=Decimal(str(balance["totalIncludingVat"])),
            vat_percent=Decimal(str(balance["vatPercent"])),
        )

    def dnd_set(self, extension: str, enabled: bool, customer_remote_id: str = "") -> SipgateDnd:
        """Switch DND of one extension on or off."""
        value = self._client(customer_remote_id).dnd_set(extension, enabled)
        return SipgateDnd(extension=extension, enabled=bool(value))

    def sms_send(self, recipient: str, content: str, customer_remote_id: str = "") -> SipgateSms:
        """Send an SMS, refused here (before any request) when sipgate would refuse it."""
        if not content:
            raise PermanentError("The SMS is empty.", field_errors={"content": ["Enter a text."]})
        if len(content) > SMS_MAX_LENGTH:
            message = (
                f"An SMS has at most {SMS_MAX_LENGTH} characters "
                f"({SMS_MAX_LENGTH // SMS_PART_LENGTH + 1} messages); this one has {len(content)}."
            )
            raise PermanentError(message, field_errors={"content": [message]})
        try:
            e164 = parse_e164(recipient, REGION)
        except InvalidPhoneNumber as exc:
            raise PermanentError(str(exc), field_errors={"recipient": [str(exc)]}) from None
        events = self._client(customer_remote_id).sms_send(
            for_provider(e164, Provider.SIPGATE), content
        )
        return SipgateSms(
            recipient=e164,
            content=content,
            event_ids=tuple(str(event["id"]) for event in events),
            status=events[0]["status"] if events else "",
        )


def _digits(number: str) -> str:
    try:
        return parse_e164(number, REGION).removeprefix("+")
    except InvalidPhoneNumber:
        return re.sub(r"\D", "", number)


def _e164(raw: str) -> str:
    return from_provider(raw, REGION) if raw else ""


def _extension(item: dict[str, Any]) -> SipgateExtension:
    outgoing = (item.get("outgoingNumber") or {}).get("numberE164", "")
    return SipgateExtension(
        extension_id=item["extensionId"],
        alias=item.get("alias", ""),
        type=item.get("type", ""),
        incoming=tuple(_e164(number) for number in item.get("incomingNumbers", [])),
        outgoing=_e164(outgoing),
        dnd=bool(item.get("dnd", False)),
    )


def _number_record(
    customer_remote_id: str, number: dict[str, Any], extensions: dict[str, dict[str, Any]]
) -> NumberRecord:
    e164 = _e164(number["numberE164"])
    extension_id = number.get("extensionId", "")
    extension = _extension(extensions[extension_id]) if extension_id in extensions else None
    return NumberRecord(
        customer_remote_id=customer_remote_id,
        e164=e164,
        activated=True,
        extension=extension_id,
        outgoing=bool(extension and extension.outgoing == e164),
        dnd=bool(extension and extension.dnd),
        # sipgate gives numbers no id of their own: the number is its key.
        remote_id=e164,
    )
