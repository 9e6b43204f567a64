"""SureVoIP's RESTful hypermedia API as the provider documents it (surevoip-api.txt).

HTTP Basic auth on every request (the doc asks for credentials up front, not
after a 401), JSON bodies, `hypermedia=no` on every call to keep payloads small
("If you don't need it, switch it off"), and the partner's customers under
/partners/{partner}/customers/{account}. Methods speak in SureVoIP's own field
names and return its JSON; the adapter turns that into the portal's records.
"""

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.auth import HTTPBasicAuth

from integrations.contract import AccountConfig, Exchange, RateLimit, Recorder
from integrations.errors import TransientError
from integrations.http import REDACTED, Gate, HttpClient, default_error_message

# The doc names no maximum page size; the sandbox serves up to 1000 a page.
LARGEST_PAGE = 1000
# Number search: "We only allow 50 in a range to be checked".
SEARCH_LARGEST_PAGE = 50
RATE_LIMIT_HEADER = "X-SureVoIP-API-RateLimit-"
# The SIP trunk resource returns the trunk's password; it never reaches a recorded exchange.
SIP_PASSWORD = re.compile(r'("sip_password"\s*:\s*)"[^"]*"')


def parse_error(response: requests.Response) -> tuple[str, dict[str, list[str]]]:
    """SureVoIP's error bodies: `{"error": "..."}` or `{"errors":[{"field","message":[...]}]}`."""
    try:
        body = response.json()
    except ValueError:
        return default_error_message(response)
    if not isinstance(body, dict):
        return default_error_message(response)
    field_errors: dict[str, list[str]] = {}
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            messages = item.get("message") or []
            if isinstance(messages, str):
                messages = [messages]
            field_errors.setdefault(str(item.get("field", "")), []).extend(map(str, messages))
    if field_errors:
        message = "; ".join(
            f"{field}: {' '.join(messages)}" if field else " ".join(messages)
            for field, messages in field_errors.items()
        )
        return message, field_errors
    return str(body.get("error") or response.reason or f"HTTP {response.status_code}"), {}


def _redacting(recorder: Recorder | None) -> Recorder | None:
    if recorder is None:
        return None

    def record(exchange: Exchange) -> None:
        body = SIP_PASSWORD.sub(rf'\1"{REDACTED}"', exchange.response_body)
        recorder(dataclasses.replace(exchange, response_body=body))

    return record


def _last_segment(location: str) -> str:
    return urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]


class SureVoIPClient:
    """One SureVoIP partner login: customers, their numbers, number search, support."""

    def __init__(
        self, config: AccountConfig, recorder: Recorder | None = None, gate: Gate | None = None
    ) -> None:
        self.config = config
        self.http = HttpClient(
            config,
            base_url=config.base_url,
            auth=HTTPBasicAuth(config.username, config.secret),
            recorder=_redacting(recorder),
            gate=gate,
            headers={"Accept": "application/json"},
        )
        # The provider's own report, refreshed from the headers of every response.
        self.rate_limit = RateLimit()

    # -- plumbing ------------------------------------------------------------

    def _customers_path(self) -> str:
        partner = self.config.partner_name
        return f"/partners/{quote(partner, safe='')}/customers" if partner else "/customers"

    def _customer_path(self, account: str) -> str:
        return f"{self._customers_path()}/{quote(account, safe='')}"

    def _number_path(self, account: str, number: str) -> str:
        return f"{self._customer_path(account)}/numbers/{quote(number, safe='')}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> requests.Response:
        """Send one request and map its errors; reads the rate-limit headers of every answer."""
        query = {
            "hypermedia": "no",
            **{k: v for k, v in (params or {}).items() if v not in ("", None)},
        }
        response = self.http.request(method, path, params=query, json_body=json_body)
        self._read_rate_limit(response)
        if response.status_code == 429:
            # Rate Limiting: the reset is in X-SureVoIP-API-RateLimit-TimeToResetSecs.
            message, _ = parse_error(response)
            raise TransientError(message, status=429, retry_after=self._seconds_to_reset(response))
        self.http.raise_for_status(response, parse_error)
        return response

    def _read_rate_limit(self, response: requests.Response) -> None:
        headers = response.headers
        if RATE_LIMIT_HEADER + "Limit" not in headers:
            return
        seconds = self._seconds_to_reset(response)
        self.rate_limit = RateLimit(
            limit=_int(headers.get(RATE_LIMIT_HEADER + "Limit")),
            remaining=_int(headers.get(RATE_LIMIT_HEADER + "Remaining")),
            reset_at=datetime.now(UTC) + timedelta(seconds=seconds)
            if seconds is not None
            else None,
        )

    @staticmethod
    def _seconds_to_reset(response: requests.Response) -> float | None:
        value = _int(response.headers.get(RATE_LIMIT_HEADER + "TimeToResetSecs"))
        return float(value) if value is not None else None

    # -- support -------------------------------------------------------------

    def echo(self, payload: dict[str, Any]) -> dict[str, Any]:
        """PUT /support/echo: the API sends back what it was sent, under `echoed`."""
        return self._call("PUT", "/support/echo", json_body=payload).json()["echoed"]

    def ip_address(self) -> str:
        """GET /support/ip-address: the address the API sees us coming from."""
        return self._call("GET", "/support/ip-address").json()["ip-address"]

    # -- customers -----------------------------------------------------------

    def customers_list(self, page: int = 1, limit: int = LARGEST_PAGE) -> dict[str, Any]:
        """One page of the partner's customers, in SureVoIP's list envelope."""
        params = {"page": page, "limit": limit}
        return self._call("GET", self._customers_path(), params=params).json()

    def customer_create(self, fields: dict[str, Any]) -> str:
        """POST /customers as the partner; returns the new account name from `Location`."""
        response = self._call("POST", "/customers", json_body=fields)
        return _last_segment(response.headers.get("Location") or response.json()["location"])

    def customer_get(self, account: str) -> dict[str, Any]:
        """One customer account's details."""
        return self._call("GET", self._customer_path(account)).json()

    def customer_update(self, account: str, fields: dict[str, Any]) -> dict[str, Any]:
        """PUT the fields SureVoIP lets a partner change; returns the customer as stored."""
        return self._call("PUT", self._customer_path(account), json_body=fields).json()

    def customer_delete(self, account: str) -> None:
        """Close a customer account; its numbers return to the free pool."""
        self._call("DELETE", self._customer_path(account))

    # -- customer numbers ----------------------------------------------------

    def numbers_list(
        self, account: str, page: int = 1, limit: int = LARGEST_PAGE
    ) -> dict[str, Any]:
        """One page of an account's numbers (country, activated, number, url, created_date)."""
        params = {"page": page, "limit": limit}
        path = f"{self._customer_path(account)}/numbers"
        return self._call("GET", path, params=params).json()

    def number_get(self, account: str, number: str) -> dict[str, Any]:
        """One number in full: destination, activated, ported, …"""
        return self._call("GET", self._number_path(account, number)).json()["numbers"][0]

    def numbers_create(self, account: str, numbers: list[dict[str, Any]]) -> list[str]:
        """POST several numbers to an account in one request; returns the numbers created."""
        path = f"{self._customer_path(account)}/numbers"
        body = self._call("POST", path, json_body={"numbers": numbers}).json()
        return [str(item["number"]) for item in body.get("numbers", [])]

    def number_put(
        self,
        account: str,
        number: str,
        *,
        destination: str | None = None,
        activated: bool | None = None,
        ported: bool | None = None,
    ) -> dict[str, Any]:
        """PUT one number at its own URL: creates it on the account or updates it."""
        entry: dict[str, Any] = {"number": number}
        if destination is not None:
            entry["destination"] = destination
        if activated is not None:
            entry["activated"] = "1" if activated else "0"
        if ported is not None:
            entry["ported"] = "1" if ported else "0"
        path = self._number_path(account, number)
        return self._call("PUT", path, json_body={"numbers": [entry]}).json()

    def number_delete(self, account: str, number: str) -> None:
        """Release a number from the account."""
        self._call("DELETE", self._number_path(account, number))

    # -- number search (no authentication needed, sent anyway) ----------------

    def numbers_search(
        self,
        areacode: str = "",
        number_filter: str = "",
        number_range: str = "",
        page: int = 1,
        limit: int = SEARCH_LARGEST_PAGE,
    ) -> dict[str, Any]:
        """Free numbers by area code, digits or keypad letters, and complete numbers or ranges."""
        params = {
            "areacode": areacode,
            "number_filter": number_filter,
            "number_range": number_range,
            "page": page,
            "limit": limit,
        }
        return self._call("GET", "/numbers", params=params).json()

    def areacodes(
        self, area_filter: str = "", page: int = 1, limit: int = LARGEST_PAGE
    ) -> dict[str, Any]:
        """UK area codes whose name or code matches `area_filter` (Aberdeen, 01224, …)."""
        params = {"area_filter": area_filter, "page": page, "limit": limit}
        return self._call("GET", "/numbers/areacodes", params=params).json()

    # -- SIP trunk and calls -------------------------------------------------

    def sip(self, account: str) -> list[dict[str, Any]]:
        """The account's SIP trunk state (read only)."""
        return self._call("GET", f"{self._customer_path(account)}/sip").json()["list"]

    def call_stats(self, account: str) -> dict[str, Any]:
        """The account's call summary."""
        return self._call("GET", f"{self._customer_path(account)}/calls/stats").json()["stats"]


def _int(value: Any) -> int | None:
    # The doc prints list counts both as numbers and as strings ("total_entries":"20").
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
