"""The Freespee partner API as documented (freespee-api-introduction.txt,
freespee-customers-resource.txt, freespee-getting-started.txt), in Freespee's
own field names.

Writes are form-urlencoded, reads JSON; every value Freespee returns as a
string is converted here to its type (ints, bools, UTC datetimes).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from requests.auth import HTTPDigestAuth

from integrations.contract import AccountConfig, Recorder
from integrations.errors import OutcomeUnknownError, TransientError
from integrations.http import Gate, HttpClient

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# The documented default, and the largest page this client asks for.
MAX_PAGESIZE = 1000

INT_FIELDS = frozenset(
    {"customer_id", "source_id", "receive_monthly_report", "class", "vm_greeting_id", "duration"}
)
BOOL_FIELDS = frozenset(
    {
        "freespee_caller_id",
        "notify_on_missed_call",
        "vm_divert_all",
        "vm_divert_busy",
        "vm_divert_noanswer",
        "answered",
    }
)
TIME_FIELDS = frozenset({"timestamp", "expire", "created", "modified", "start"})
# Fields an error message may start with (Freespee's errors name no field, so
# the first word of the message is matched against the fields we send).
KNOWN_FIELDS = (
    INT_FIELDS
    | BOOL_FIELDS
    | TIME_FIELDS
    | {f"custom_{n}" for n in range(1, 21)}
    | {"name", "custnr", "corporateid", "email", "media", "phonenr", "smsnumber", "destnr"}
    | {"end", "page", "pagesize", "status"}
)


@dataclass(frozen=True)
class Page:
    """One page of a Freespee list: its records and the paging properties."""

    records: list[dict[str, Any]]
    total: int
    page: int
    pagesize: int
    numpages: int

    @property
    def is_last(self) -> bool:
        return self.page + 1 >= self.numpages


def parse_value(key: str, value: Any) -> Any:
    """A value as Freespee sends it (a string or null), converted to its type."""
    if value is None or isinstance(value, list | dict):
        return value
    if key in TIME_FIELDS:
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC) if value else None
    if key in INT_FIELDS:
        return int(value) if str(value).strip() else None
    if key in BOOL_FIELDS:
        return str(value) == "1"
    return value


def parse_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A customer, source or CDR with typed values."""
    return {key: parse_value(key, value) for key, value in record.items()}


def format_value(value: Any) -> str:
    """A Python value as a form field: bools 1/0, datetimes in UTC, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    return str(value)


def parse_error(response: requests.Response) -> tuple[str, dict[str, list[str]]]:
    """Freespee's `{"errors": [...]}` as a message and the messages per field."""
    try:
        messages = response.json().get("errors") or []
    except ValueError:
        messages = []
    messages = [str(message) for message in messages] or [
        response.text[:500] or response.reason or f"HTTP {response.status_code}"
    ]
    field_errors: dict[str, list[str]] = {}
    for message in messages:
        match = re.match(r"[a-z_0-9]+", message)
        if match and match.group(0) in KNOWN_FIELDS:
            field_errors.setdefault(match.group(0), []).append(message)
    message = "; ".join(messages)
    if response.status_code == 401:
        message = (
            "Freespee refused the request: the username or password is wrong, or this "
            f"server's IP address is not on Freespee's allow list ({message})"
        )
    return message, field_errors


class FreespeeClient:
    """The Freespee API for one partner account: digest auth, form writes, JSON reads."""

    def __init__(
        self, config: AccountConfig, recorder: Recorder | None = None, gate: Gate | None = None
    ) -> None:
        self.http = HttpClient(
            config,
            base_url=f"{config.base_url.rstrip('/')}/{config.api_version}",
            # requests keeps the digest nonce per thread and signs later requests
            # with it directly, so only a thread's first request costs a 401.
            auth=HTTPDigestAuth(config.username, config.secret),
            recorder=recorder,
            gate=gate,
            headers={"Accept": "application/json"},
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = self.http.request(
            method,
            path,
            params={k: format_value(v) for k, v in (params or {}).items()} or None,
            data={k: format_value(v) for k, v in (data or {}).items()} or None,
        )
        self.http.raise_for_status(response, parse_error)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            unknown = OutcomeUnknownError if method in ("POST", "PUT") else TransientError
            raise unknown(
                f"Freespee answered HTTP {response.status_code} with a body that is not JSON.",
                status=response.status_code,
            )
        return body

    def _list(self, path: str, key: str, params: Mapping[str, Any]) -> Page:
        body = self._call("GET", path, params=params)
        return Page(
            records=[parse_record(record) for record in body.get(key, [])],
            total=int(body.get("total", 0)),
            page=int(body.get("page", 0)),
            pagesize=int(body.get("pagesize", MAX_PAGESIZE)),
            numpages=int(body.get("numpages", 0)),
        )

    def _one(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        records = body.get(key)
        if not records:
            raise TransientError(f"Freespee's answer holds no {key}.")
        return parse_record(records[0])

    def ping(self) -> dict[str, Any]:
        """GET /miscellaneous/ping: `{"ping": "ok"}` when the credentials work."""
        return self._call("GET", "/miscellaneous/ping")

    def customers_list(self, page: int = 0, pagesize: int = MAX_PAGESIZE, **filters: Any) -> Page:
        """GET /customers, one page; filters `customer_id`, `custnr`."""
        return self._list(
            "/customers", "customers", {**filters, "page": page, "pagesize": pagesize}
        )

    def customer_get(self, customer_id: int | str) -> dict[str, Any]:
        """GET /customers/{customer_id}."""
        return self._one(self._call("GET", f"/customers/{customer_id}"), "customers")

    def customer_create(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST /customers: `name` and `custnr` are mandatory."""
        return self._one(self._call("POST", "/customers", data=fields), "customers")

    def customer_update(self, customer_id: int | str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """PUT /customers/{customer_id} with the fields to change."""
        return self._one(self._call("PUT", f"/customers/{customer_id}", data=fields), "customers")

    def customer_delete(self, customer_id: int | str) -> None:
        """DELETE /customers/{customer_id}: removed, its sources expired, personal data scrubbed."""
        self._call("DELETE", f"/customers/{customer_id}")

    def sources_list(self, page: int = 0, pagesize: int = MAX_PAGESIZE, **filters: Any) -> Page:
        """GET /sources, one page; filters customer_id, custnr, source_id, status, name, media."""
        return self._list("/sources", "sources", {**filters, "page": page, "pagesize": pagesize})

    def source_get(self, source_id: int | str) -> dict[str, Any]:
        """GET /sources/{source_id}."""
        return self._one(self._call("GET", f"/sources/{source_id}"), "sources")

    def source_create(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST /sources: customer_id, name, media and phonenr are mandatory; destnr comes back."""
        return self._one(self._call("POST", "/sources", data=fields), "sources")

    def source_update(self, source_id: int | str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """PUT /sources/{source_id} with the fields to change."""
        return self._one(self._call("PUT", f"/sources/{source_id}", data=fields), "sources")

    def source_delete(self, source_id: int | str) -> dict[str, Any]:
        """DELETE /sources/{source_id}: the source goes into quarantine."""
        return self._one(self._call("DELETE", f"/sources/{source_id}"), "sources")

    def cdrs(
        self,
        customer_id: int | str,
        start: datetime,
        end: datetime,
        page: int = 0,
        pagesize: int = MAX_PAGESIZE,
    ) -> Page:
        """GET /statistics/cdrs: one page of a customer's calls between start and end (UTC)."""
        params = {
            "customer_id": customer_id,
            "start": start,
            "end": end,
            "page": page,
            "pagesize": pagesize,
        }
        return self._list("/statistics/cdrs", "cdrs", params)
