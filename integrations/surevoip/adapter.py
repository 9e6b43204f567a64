"""The portal's domain operations at one SureVoIP partner login.

Customers are the partner's customer accounts (remote id: the account name
SureVoIP generates); numbers are the UK DDIs on those accounts, sent as digits
without `+` and returned as E.164. A destination is a SIP URI, passed through,
or a number, sent as digits.

SureVoIP keeps no customer number of ours, so the adapter writes the partner's
`custnr` into the one free-text field that names the customer: the company
name, as `Acme Ltd [custnr 1412]` (the doc's own example tags it the same way:
"Suretec Systems Ltd. - API Test"). The tag is read back off every customer, so
`customer_find(custnr)` can resolve a create whose answer was lost by listing
the partner's customers (one request per 1000), and records carry the plain
company name. Other fields were no better: fax, phone and website are typed
and shown as such; the billing contact's `accountcode` is SureVoIP's own.
"""

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from integrations.contract import (
    AccountConfig,
    Adapter,
    CustomerRecord,
    NumberRecord,
    Ping,
    Provider,
    RateLimit,
    Recorder,
)
from integrations.errors import NotFoundError
from integrations.http import Gate
from integrations.phone import InvalidPhoneNumber, for_provider, from_provider
from integrations.surevoip.client import LARGEST_PAGE, SEARCH_LARGEST_PAGE, SureVoIPClient

CUSTNR_TAG = re.compile(r"^(?P<name>.*?)\s*\[custnr (?P<custnr>[^\]]+)\]$")
SIP_URI = re.compile(r"^(?:SIP/|sip:)", re.IGNORECASE)


@dataclass(frozen=True)
class AvailableNumber:
    """A free UK number found by the number search, with its area."""

    e164: str
    areacode: str
    area: str
    quality: str = ""
    one_off_price: int = 0


@dataclass(frozen=True)
class AreaCode:
    """A UK area code SureVoIP sells numbers in."""

    areacode: str
    area: str


def company_name_tagged(company_name: str, custnr: str) -> str:
    """The company name SureVoIP stores: ours with the custnr tag appended."""
    return f"{company_name} [custnr {custnr}]".strip() if custnr else company_name


def company_name_untagged(stored: str) -> tuple[str, str]:
    """A stored company name split into (company name, custnr); custnr "" when untagged."""
    match = CUSTNR_TAG.match(stored or "")
    if match is None:
        return stored or "", ""
    return match["name"], match["custnr"]


def destination_for_provider(destination: str) -> str:
    """A SIP URI as given; an E.164 number as SureVoIP's digits without `+`."""
    if destination.startswith("+"):
        return for_provider(destination, Provider.SUREVOIP)
    return destination


def destination_from_provider(destination: str) -> str:
    """A destination as the portal keeps it: SIP URI as given, a number in E.164."""
    if not destination or SIP_URI.match(destination):
        return destination
    try:
        return from_provider(destination)
    except InvalidPhoneNumber:
        return destination


def number_from_provider(number: str) -> str:
    """A SureVoIP number (441224900999, or 01224900123 as older entries hold) in E.164.

    A number libphonenumber rejects is kept as `+` and its digits rather than
    failing a whole list over one entry.
    """
    try:
        return from_provider(number)
    except InvalidPhoneNumber:
        return "+" + number.removeprefix("00") if number.isdigit() else number


def _phone_from_provider(phone: str) -> str:
    try:
        return from_provider(phone) if phone else ""
    except InvalidPhoneNumber:
        return phone


class SureVoIPAdapter(Adapter):
    """Customers and numbers at SureVoIP, in the portal's records."""

    provider = Provider.SUREVOIP

    def __init__(
        self, config: AccountConfig, recorder: Recorder | None = None, gate: Gate | None = None
    ) -> None:
        self.config = config
        self.client = SureVoIPClient(config, recorder=recorder, gate=gate)
        # Area code -> place name; area codes do not change, so one look-up each per process.
        self._area_names: dict[str, str] = {}

    @property
    def rate_limit(self) -> RateLimit:
        """SureVoIP's own count, from the headers of the last response."""
        return self.client.rate_limit

    def ping(self) -> Ping:
        """An authenticated echo, timed: proves the address and the credentials."""
        started = time.monotonic()
        echoed = self.client.echo({"message": "ping"})
        latency_ms = round((time.monotonic() - started) * 1000)
        return Ping(ok=echoed == {"message": "ping"}, latency_ms=latency_ms, detail="echo")

    # -- customers -----------------------------------------------------------

    def customer_create(self, record: CustomerRecord) -> CustomerRecord:
        """Create the customer account; its remote id is the account name SureVoIP made."""
        account = self.client.customer_create(self._customer_fields(record))
        return replace(record, remote_id=account)

    def customer_update(self, record: CustomerRecord) -> CustomerRecord:
        """Write the customer's contact and address fields."""
        stored = self.client.customer_update(record.remote_id, self._customer_fields(record))
        return self._customer_record(stored)

    def customer_delete(self, remote_id: str) -> None:
        """Close the customer account (its numbers are released with it)."""
        self.client.customer_delete(remote_id)

    def customer_get(self, remote_id: str) -> CustomerRecord:
        """The customer account as SureVoIP holds it."""
        return self._customer_record(self.client.customer_get(remote_id))

    def customer_find(self, custnr: str) -> CustomerRecord | None:
        """The partner's customer tagged with this custnr (see the module docstring), if any."""
        return next((c for c in self.customer_list() if c.custnr == custnr), None)

    def customer_list(self) -> Iterator[CustomerRecord]:
        """Every customer of the partner, a page of 1000 per request."""
        for entry in self._pages(self.client.customers_list):
            yield self._customer_record(entry)

    def _customer_fields(self, record: CustomerRecord) -> dict[str, Any]:
        # fax and company_website are left as SureVoIP has them: the portal does not keep them.
        return {
            "firstname": record.firstname,
            "lastname": record.lastname,
            "company_name": company_name_tagged(record.company_name or record.name, record.custnr),
            "email": record.email,
            "phone": for_provider(record.phone, Provider.SUREVOIP),
            "address": record.address,
            "city": record.city,
            "state": record.state,
            "postcode": record.postcode,
            "country": record.country,
        }

    @staticmethod
    def _customer_record(stored: dict[str, Any]) -> CustomerRecord:
        company_name, custnr = company_name_untagged(stored.get("company_name", ""))
        person = f"{stored.get('firstname', '')} {stored.get('lastname', '')}".strip()
        return CustomerRecord(
            custnr=custnr,
            name=company_name or person,
            email=stored.get("email", ""),
            firstname=stored.get("firstname", ""),
            lastname=stored.get("lastname", ""),
            company_name=company_name,
            phone=_phone_from_provider(stored.get("phone", "")),
            address=stored.get("address", ""),
            city=stored.get("city", ""),
            state=stored.get("state", ""),
            postcode=stored.get("postcode", ""),
            country=stored.get("country", ""),
            remote_id=stored.get("username", ""),
        )

    # -- numbers -------------------------------------------------------------

    def number_create(self, record: NumberRecord) -> NumberRecord:
        """Provision one number with a PUT to its own URL.

        PUT is SureVoIP's create-or-update, so a create whose answer was lost
        can simply be sent again: it is idempotent, unlike the POST of several.
        """
        return self._number_put(record)

    def number_update(self, record: NumberRecord) -> NumberRecord:
        """Change a number's destination, activation and ported flag.

        The same PUT as a create: a number released meanwhile is provisioned again.
        """
        return self._number_put(record)

    def number_delete(self, customer_remote_id: str, e164: str) -> None:
        """Release the number from the account."""
        self.client.number_delete(customer_remote_id, for_provider(e164, Provider.SUREVOIP))

    def number_get(self, customer_remote_id: str, e164: str) -> NumberRecord:
        """One number of the account, with its destination."""
        number = for_provider(e164, Provider.SUREVOIP)
        stored = self.client.number_get(customer_remote_id, number)
        return NumberRecord(
            customer_remote_id=customer_remote_id,
            e164=number_from_provider(str(stored["number"])),
            destination=destination_from_provider(stored.get("destination", "")),
            activated=str(stored.get("activated")) == "1",
            ported=str(stored.get("ported")) == "1",
            remote_id=str(stored["number"]),
        )

    def number_find(self, customer_remote_id: str, e164: str) -> NumberRecord | None:
        """The number on this account, or None: a number is its own natural key."""
        try:
            return self.number_get(customer_remote_id, e164)
        except NotFoundError:
            return None

    def number_list(self, customer_remote_id: str) -> Iterator[NumberRecord]:
        """Every number of the account, a page of 1000 per request.

        SureVoIP's list entries carry only country, activated, number, url and
        created_date: `destination` comes back empty and `ported` False. Read
        one number with `number_get` for those.
        """
        for entry in self._pages(
            lambda page, limit: self.client.numbers_list(customer_remote_id, page, limit)
        ):
            yield NumberRecord(
                customer_remote_id=customer_remote_id,
                e164=number_from_provider(str(entry["number"])),
                activated=str(entry.get("activated")) == "1",
                remote_id=str(entry["number"]),
            )

    def number_create_many(self, records: list[NumberRecord]) -> list[NumberRecord]:
        """Provision several numbers with one POST per customer account."""
        by_account: dict[str, list[NumberRecord]] = {}
        for record in records:
            by_account.setdefault(record.customer_remote_id, []).append(record)
        created = []
        for account, account_records in by_account.items():
            self.client.numbers_create(account, [self._number_entry(r) for r in account_records])
            created.extend(
                replace(r, remote_id=for_provider(r.e164, Provider.SUREVOIP))
                for r in account_records
            )
        return created

    def _number_put(self, record: NumberRecord) -> NumberRecord:
        number = for_provider(record.e164, Provider.SUREVOIP)
        self.client.number_put(
            record.customer_remote_id,
            number,
            destination=destination_for_provider(record.destination),
            activated=record.activated,
            ported=record.ported,
        )
        return replace(record, remote_id=number)

    @staticmethod
    def _number_entry(record: NumberRecord) -> dict[str, Any]:
        return {
            "number": for_provider(record.e164, Provider.SUREVOIP),
            "destination": destination_for_provider(record.destination),
            "activated": "1" if record.activated else "0",
            "ported": "1" if record.ported else "0",
        }

    # -- number search -------------------------------------------------------

    def numbers_search(
        self,
        areacode: str = "",
        number_filter: str = "",
        number_range: str = "",
        area_name: str = "",
    ) -> list[AvailableNumber]:
        """Free numbers (at most 50); a place name is looked up as area codes first, as the
        doc advises ("use the Areacode resource first to find the areacode number")."""
        areacodes = [areacode]
        if area_name and not areacode:
            areacodes = [area.areacode for area in self.areacodes(area_name)]
        found: list[AvailableNumber] = []
        for code in areacodes:
            page = self.client.numbers_search(
                areacode=code, number_filter=number_filter, number_range=number_range
            )
            for entry in page["list"]:
                national = str(entry["number_complete"])
                found.append(
                    AvailableNumber(
                        e164=number_from_provider(national),
                        areacode=str(entry.get("number_areacode", "")),
                        area=self._area_name(str(entry.get("number_areacode", ""))),
                        quality=str(entry.get("number_quality", "")),
                        one_off_price=int(entry.get("number_one_off_price") or 0),
                    )
                )
            if len(found) >= SEARCH_LARGEST_PAGE:
                break
        return found[:SEARCH_LARGEST_PAGE]

    def areacodes(self, area_filter: str = "") -> list[AreaCode]:
        """UK area codes by place name ("Aber") or code ("01224")."""
        areas = []
        for entry in self._pages(
            lambda page, limit: self.client.areacodes(area_filter, page=page, limit=limit)
        ):
            code = str(entry["areacode"])
            # The doc's areaname carries the code too: "Aberdeen (01224)".
            place = str(entry.get("areaname", "")).removesuffix(f" ({code})")
            self._area_names[code] = place
            areas.append(AreaCode(areacode=code, area=place))
        return areas

    def _area_name(self, areacode: str) -> str:
        if areacode and areacode not in self._area_names:
            self.areacodes(areacode)
        return self._area_names.get(areacode, "")

    # -- paging --------------------------------------------------------------

    @staticmethod
    def _pages(fetch: Callable[[int, int], dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Every entry of a list resource, page by page at the largest page size."""
        page = 1
        while True:
            envelope = fetch(page, LARGEST_PAGE)
            yield from envelope.get("list") or []
            next_page = envelope.get("next_page")
            if not next_page or int(next_page) <= page:
                return
            page = int(next_page)
