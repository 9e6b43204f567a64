"""A simulator of the Freespee (Kaisa) partner API, as documented in
/work/shared/providers/freespee-*.txt: customers, sources, ping and CDRs.

Mounted at `/freespee/`, it sees `/<version>/<resource>[/<id>]`; any version
segment is accepted. What it simulates, and the choices the docs leave open:

- HTTP digest authentication (RFC 7616, qop=auth, MD5). Issued nonces are kept
  (across `reset`, since they are sessions rather than data) so a client reuses
  its nonce without a new 401 round trip; a correctly signed request with an
  unknown nonce gets a fresh challenge with `stale=true`.
- POST/PUT read form-urlencoded (or JSON) bodies, GET/DELETE the query string;
  the two are merged, so `POST /customers/1?_method=PUT` works as the
  introduction's "Tips and tricks" show. `X-HTTP-Method-Override` does the same.
- JSON by default; XML with a `.xml` suffix on any resource segment
  (`/customers.xml/1`) or `Accept: application/xml`.
- Paging (`page` 0-based, `pagesize` default and maximum 1000): lists carry
  `total`, `page`, `pagesize` and `numpages` beside the records.
- Errors: `{"errors": ["<field> ..."]}`, every message starting with the field
  it concerns, on 400 (invalid), 403 (refused), 404, 405 and 501.
- Customers: DELETE marks the customer removed (kept in the state, absent from
  lists, 404 by id, its custnr free again), expires its sources and scrubs its
  personal data as the customers resource's DELETE note says.
- Sources: the tracking number (`destnr`) comes from a pool of Stockholm
  numbers and is never held by two sources that are not archived; DELETE puts a
  source in quarantine for `QUARANTINE_DAYS`, then it is archived and its number
  may be handed out again (only once the fresh pool is used up). The status is
  computed on read from the timestamps: `upcoming` before the activation
  `timestamp`, `archived` after `expire`, `extended` once a PUT moved an
  existing expiry later, else `active`; `reserved` is set with `set_source_status`.
- `/statistics/cdrs`: calls generated deterministically per source and day
  (0 to 3 calls a day from a seed of source and date) for sources live that day;
  the period may span at most `CDR_MAX_DAYS` days.
"""

import hashlib
import hmac
import json
import math
import random
import re
import secrets
import uuid
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
from werkzeug.wrappers import Request, Response

from integrations.phone import InvalidPhoneNumber, parse_e164
from integrations.sandbox import ProviderSandbox

REALM = "Freespee API"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_PAGESIZE = 1000
MAX_PAGESIZE = 1000
FIRST_CUSTOMER_ID = 407382  # the getting-started example's first customer_id
FIRST_SOURCE_ID = 643971  # the getting-started example's source_id
QUARANTINE_DAYS = 90
CDR_MAX_DAYS = 92
MAX_NONCES = 100_000
# National numbers are Swedish unless given in international form (getting
# started: phonenr=0890510 comes back as +46890510).
DEFAULT_REGION = "SE"
# Tracking numbers: +46 8 5xxxxxxx, ten million valid Stockholm numbers.
POOL_PREFIX = "+4685"
POOL_SIZE = 10_000_000

CUSTOMER_LIMITS = {"name": 60, "custnr": 45, "email": 150, "corporateid": 40}
CUSTOM_FIELD_COUNT = 20
CUSTOM_FIELD_LENGTH = 255
SOURCE_LIMITS = {"name": 100, "media": 100, "email": 150}
SOURCE_FLAGS = ("notify_on_missed_call", "vm_divert_all", "vm_divert_busy", "vm_divert_noanswer")
SOURCE_STATUSES = ("active", "upcoming", "reserved", "quarantined", "archived", "extended")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Documented resources this simulator does not implement answer 501, as the
# introduction's "Response codes" say for "not yet implemented" methods.
UNIMPLEMENTED = frozenset({"voicemail_greetings", "users", "allowed_numbers"})


class ApiError(Exception):
    """An error answer: the status and the messages of `{"errors": [...]}`."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None):
        super().__init__(messages[0] if messages else "")
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}


def _now() -> datetime:
    return datetime.now(UTC)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _md5(text: str) -> str:
    # MD5 is what the digest scheme (RFC 7616, algorithm=MD5) prescribes.
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else "item"


def _to_xml(data: dict[str, Any], root_name: str = "response") -> str:
    root = ElementTree.Element(root_name)
    _xml_fill(root, data)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'


def _xml_fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _xml_fill(ElementTree.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _xml_fill(ElementTree.SubElement(element, _singular(element.tag)), item)
    elif value is not None:
        element.text = str(value)


def normalise_phonenr(raw: str) -> str:
    """A number as Freespee stores it: E.164, national numbers read as Swedish."""
    try:
        return parse_e164(raw, DEFAULT_REGION)
    except InvalidPhoneNumber:
        pass
    # Freespee is laxer than libphonenumber's validity check: its own example
    # number 08-90510 is stored as +46890510; accept any possible number.
    try:
        number = phonenumbers.parse(raw.strip(), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"“{raw}” is not a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"“{raw}” is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def scrub_phonenr(e164: str | None) -> str | None:
    """Keep the country code and area code, replace the subscriber number with asterisks.

    As the customers resource's DELETE note says: "replace all phone numbers with
    the ccndc of the number and remove the subscriber number with asterisks".
    """
    if not e164:
        return e164
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "*" * len(e164)
    national = phonenumbers.national_significant_number(number)
    area_length = phonenumbers.length_of_national_destination_code(number)
    area = national[:area_length]
    return f"+{number.country_code}{area}{'*' * (len(national) - area_length)}"


class FreespeeSandbox(ProviderSandbox):
    """The Freespee partner API: digest auth, customers, sources, ping and CDRs."""

    name = "freespee"

    def __init__(self, accounts: dict[str, str] | None = None) -> None:
        # nonce -> issue time; survives `reset` so clients keep their digest session.
        self.nonces: OrderedDict[str, float] = OrderedDict()
        self.opaque = secrets.token_hex(16)
        super().__init__(accounts)

    # --- state -----------------------------------------------------------------

    def reset(self) -> None:
        self.customers: dict[int, dict[str, Any]] = {}
        self.sources: dict[int, dict[str, Any]] = {}
        self.next_customer_id = FIRST_CUSTOMER_ID
        self.next_source_id = FIRST_SOURCE_ID
        self.pool_next = 0
        self.pool_size = POOL_SIZE
        # Tests may replace the clock to watch statuses change with time.
        self.clock: Callable[[], datetime] = _now
        self._rebuild_indexes()

    def state(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(
                json.dumps(
                    {
                        "customers": list(self.customers.values()),
                        "sources": list(self.sources.values()),
                        "next_customer_id": self.next_customer_id,
                        "next_source_id": self.next_source_id,
                        "pool_next": self.pool_next,
                    }
                )
            )

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.reset()
            self.customers = {int(c["customer_id"]): c for c in state.get("customers", [])}
            self.sources = {int(s["source_id"]): s for s in state.get("sources", [])}
            self.next_customer_id = state.get("next_customer_id", FIRST_CUSTOMER_ID)
            self.next_source_id = state.get("next_source_id", FIRST_SOURCE_ID)
            self.pool_next = state.get("pool_next", 0)
            self._rebuild_indexes()

    def _rebuild_indexes(self) -> None:
        # custnr -> customer_id of live customers: custnr is unique among them.
        self.custnr_index = {
            c["custnr"]: c["customer_id"] for c in self.customers.values() if not c["removed"]
        }
        self._changed()

    def _changed(self) -> None:
        self._live_ids_cache: list[int] | None = None
        self._source_ids_cache: list[int] | None = None

    def now(self) -> str:
        return _format_time(self.clock())

    # --- helpers for tests and demos (direct, in-process) ------------------------

    def seed_customers(self, count: int, prefix: str = "seed-") -> list[str]:
        """Create `count` customers directly (no HTTP); returns their customer_ids."""
        with self.lock:
            return [
                str(self._insert_customer({"name": f"Customer {n}", "custnr": f"{prefix}{n}"}))
                for n in range(count)
            ]

    def seed_sources(self, customer_id: int, count: int) -> list[str]:
        """Create `count` sources for a customer directly (no HTTP); returns their source_ids."""
        with self.lock:
            return [
                str(
                    self._insert_source(
                        {
                            "customer_id": int(customer_id),
                            "name": f"Source {n}",
                            "media": "seed",
                            "phonenr": "+46850000000",
                        }
                    )
                )
                for n in range(count)
            ]

    def set_source_status(self, source_id: int, status: str) -> None:
        """Force a source's lifecycle status (e.g. `reserved`); `active` clears the override."""
        if status not in SOURCE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(SOURCE_STATUSES)}")
        with self.lock:
            source = self.sources[int(source_id)]
            source["status_override"] = None if status == "active" else status
            source["extended"] = False
            if status == "quarantined":
                source["quarantine_ends"] = _format_time(
                    self.clock() + timedelta(days=QUARANTINE_DAYS)
                )
            self._changed()

    # --- WSGI --------------------------------------------------------------------

    def fault_response(self, status: int) -> Response:
        messages = {
            500: "The API is not responding, please contact Freespee's support.",
            503: "Service is up, but unresponsive. Please try again later.",
        }
        message = messages.get(status, f"HTTP {status}")
        return Response(
            json.dumps({"errors": [message]}), status=status, mimetype="application/json"
        )

    def dispatch(self, request: Request) -> Response:
        segments = [s for s in request.path.split("/") if s]
        response_format = self._response_format(request, segments)
        segments = [re.sub(r"\.(xml|json)$", "", s) for s in segments]
        try:
            self._authenticate(request)
            method = (
                request.args.get("_method")
                or request.headers.get("X-HTTP-Method-Override")
                or request.method
            ).upper()
            parameters = self._parameters(request)
            data = self._route(segments[1:], method, parameters)
            return self._respond(data, 200, response_format)
        except ApiError as error:
            return self._respond({"errors": error.messages}, error.status, response_format, error)

    def _response_format(self, request: Request, segments: list[str]) -> str:
        for segment in segments[1:]:
            if segment.endswith(".xml"):
                return "xml"
            if segment.endswith(".json"):
                return "json"
        best = request.accept_mimetypes.best_match(
            ["application/json", "application/xml", "text/xml"], default="application/json"
        )
        return "json" if best == "application/json" else "xml"

    def _respond(
        self,
        data: dict[str, Any],
        status: int,
        response_format: str,
        error: ApiError | None = None,
    ) -> Response:
        headers = error.headers if error else {}
        if response_format == "xml":
            return Response(
                _to_xml(data), status=status, headers=headers, mimetype="application/xml"
            )
        return Response(
            json.dumps(data), status=status, headers=headers, mimetype="application/json"
        )

    def _parameters(self, request: Request) -> dict[str, str]:
        parameters = {k: v for k, v in request.args.items() if k != "_method"}
        if request.mimetype == "application/json":
            # "Some methods support JSON POST data" (introduction, Request data).
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
            except ValueError:
                raise ApiError(400, "body is not valid JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "body must be a JSON object")
            parameters.update(
                {k: "" if v is None else str(v) for k, v in body.items() if k != "_method"}
            )
        else:
            parameters.update({k: v for k, v in request.form.items() if k != "_method"})
        return parameters

    # --- digest authentication ---------------------------------------------------

    def _challenge(self, stale: bool = False) -> dict[str, str]:
        nonce = secrets.token_hex(16)
        with self.lock:
            self.nonces[nonce] = self.clock().timestamp()
            while len(self.nonces) > MAX_NONCES:
                self.nonces.popitem(last=False)
        value = (
            f'Digest realm="{REALM}", qop="auth", algorithm=MD5, '
            f'nonce="{nonce}", opaque="{self.opaque}"'
        )
        if stale:
            value += ", stale=true"
        return {"WWW-Authenticate": value}

    def _authenticate(self, request: Request) -> None:
        authorization = request.authorization
        if authorization is None or authorization.type != "digest":
            raise ApiError(
                401,
                "Authentication required: this API accepts HTTP digest authentication only.",
                headers=self._challenge(),
            )
        parameters = authorization.parameters
        username = parameters.get("username", "")
        nonce = parameters.get("nonce", "")
        uri = parameters.get("uri", "")
        password = self.accounts.get(username)
        refused = ApiError(
            401,
            "Authentication failed: the credentials are incorrect, or if they are correct, "
            f"this IP address ({request.remote_addr}) is not allowed to use the API.",
            headers=self._challenge(),
        )
        if password is None or parameters.get("qop") != "auth":
            raise refused
        if parameters.get("algorithm", "MD5").upper() != "MD5":
            raise refused
        requested = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        if requested and uri != requested:
            raise ApiError(400, "uri of the digest does not match the request")
        ha1 = _md5(f"{username}:{REALM}:{password}")
        ha2 = _md5(f"{request.method}:{uri}")
        expected = _md5(
            f"{ha1}:{nonce}:{parameters.get('nc', '')}:{parameters.get('cnonce', '')}:auth:{ha2}"
        )
        if not hmac.compare_digest(expected, parameters.get("response", "")):
            raise refused
        with self.lock:
            known = nonce in self.nonces
        if not known:
            raise ApiError(
                401, "Authentication failed: the nonce has expired.", headers=self._challenge(True)
            )

    # --- routing -----------------------------------------------------------------

    def _route(self, path: list[str], method: str, parameters: dict[str, str]) -> dict[str, Any]:
        if not path:
            raise ApiError(404, "resource not found")
        if any(segment in UNIMPLEMENTED for segment in path):
            raise ApiError(501, f"{path[-1]} is not yet implemented")
        resource, rest = path[0], path[1:]
        if resource == "miscellaneous" and rest == ["ping"]:
            self._allow(method, "GET")
            return {"ping": "ok"}
        if resource == "statistics" and rest == ["cdrs"]:
            self._allow(method, "GET")
            return self._cdrs(parameters)
        if resource in ("customers", "sources") and len(rest) <= 1:
            if rest:
                if not rest[0].isdigit():
                    raise ApiError(404, f"{resource}/{rest[0]} not found")
                parameters = {**parameters, f"{_singular(resource)}_id": rest[0]}
                self._allow(method, "GET", "PUT", "DELETE")
            else:
                self._allow(method, "GET", "POST", "PUT", "DELETE")
            handler = getattr(self, f"_{resource}_{method.lower()}")
            return handler(parameters, by_id=bool(rest))
        raise ApiError(404, f"resource {'/'.join(path)} not found")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(405, f"method {method} is not allowed on this resource")

    @staticmethod
    def _paging(parameters: dict[str, str]) -> tuple[int, int]:
        try:
            page = int(parameters.get("page", "0") or 0)
            pagesize = int(parameters.get("pagesize", str(DEFAULT_PAGESIZE)) or DEFAULT_PAGESIZE)
        except ValueError:
            raise ApiError(400, "page and pagesize must be integers") from None
        if page < 0:
            raise ApiError(400, "page must be 0 or more")
        if not 1 <= pagesize <= MAX_PAGESIZE:
            raise ApiError(400, f"pagesize must be between 1 and {MAX_PAGESIZE}")
        return page, pagesize

    @staticmethod
    def _page(key: str, records: list[Any], page: int, pagesize: int, render: Callable) -> dict:
        total = len(records)
        chosen = records[page * pagesize : (page + 1) * pagesize]
        return {
            key: [render(record) for record in chosen],
            "total": total,
            "page": page,
            "pagesize": pagesize,
            "numpages": math.ceil(total / pagesize),
        }

    # --- customers -----------------------------------------------------------------

    def _customer(self, customer_id: str) -> dict[str, Any]:
        if not str(customer_id).isdigit():
            raise ApiError(400, "customer_id must be an integer")
        customer = self.customers.get(int(customer_id))
        if customer is None:
            raise ApiError(404, f"customer_id {customer_id} not found")
        if customer["removed"]:
            raise ApiError(404, f"customer_id {customer_id} has been removed")
        return customer

    @staticmethod
    def _render_customer(customer: dict[str, Any]) -> dict[str, Any]:
        # Every value is a string, as in the getting-started response.
        rendered = {
            "customer_id": str(customer["customer_id"]),
            "name": customer["name"],
            "custnr": customer["custnr"],
            "corporateid": customer["corporateid"],
            "email": customer["email"],
            "uuid": customer["uuid"],
            "dncs_class_name": customer["dncs_class_name"],
            "receive_monthly_report": str(customer["receive_monthly_report"]),
            "freespee_caller_id": str(customer["freespee_caller_id"]),
        }
        # Custom fields appear once they hold a value: they exist only after
        # Freespee support set them up (customers resource, POST note *).
        for number in range(1, CUSTOM_FIELD_COUNT + 1):
            value = customer.get(f"custom_{number}", "")
            if value:
                rendered[f"custom_{number}"] = value
        return rendered

    def _live_customer_ids(self) -> list[int]:
        if self._live_ids_cache is None:
            self._live_ids_cache = [
                customer_id
                for customer_id, customer in self.customers.items()
                if not customer["removed"]
            ]
        return self._live_ids_cache

    def _customers_get(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        with self.lock:
            if by_id:
                customer = self._customer(parameters["customer_id"])
                return {"customers": [self._render_customer(customer)]}
            page, pagesize = self._paging(parameters)
            if parameters.get("customer_id"):
                try:
                    ids = [self._customer(parameters["customer_id"])["customer_id"]]
                except ApiError as error:
                    if error.status != 404:
                        raise
                    ids = []
            else:
                ids = self._live_customer_ids()
            if "custnr" in parameters:
                wanted = self.custnr_index.get(parameters["custnr"])
                ids = [customer_id for customer_id in ids if customer_id == wanted]
            return self._page(
                "customers",
                ids,
                page,
                pagesize,
                lambda customer_id: self._render_customer(self.customers[customer_id]),
            )

    def _validate_customer(
        self, parameters: dict[str, str], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        errors: list[str] = []
        values: dict[str, Any] = {}
        for name in ("name", "custnr"):
            if current is None and not parameters.get(name, "").strip():
                errors.append(f"{name} is mandatory")
            elif current is not None and name in parameters and not parameters[name].strip():
                errors.append(f"{name} cannot be empty")
        for name, limit in CUSTOMER_LIMITS.items():
            if name in parameters:
                value = parameters[name].strip()
                if len(value) > limit:
                    errors.append(f"{name} is longer than {limit} characters")
                values[name] = value
        if values.get("email") and not EMAIL_PATTERN.match(values["email"]):
            errors.append("email is not a valid email address")
        for key, value in parameters.items():
            match = re.fullmatch(r"custom_(\d+)", key)
            if not match:
                continue
            if not 1 <= int(match.group(1)) <= CUSTOM_FIELD_COUNT:
                errors.append(f"{key} is not a custom field (custom_1 to custom_20)")
            elif len(value) > CUSTOM_FIELD_LENGTH:
                errors.append(f"{key} is longer than {CUSTOM_FIELD_LENGTH} characters")
            else:
                values[key] = value
        choices = {"receive_monthly_report": ("0", "1", "2"), "freespee_caller_id": ("0", "1")}
        for name, allowed in choices.items():
            if name in parameters:
                if parameters[name] not in allowed:
                    errors.append(f"{name} must be one of {', '.join(allowed)}")
                else:
                    values[name] = int(parameters[name])
        custnr = values.get("custnr")
        if custnr:
            holder = self.custnr_index.get(custnr)
            if holder is not None and (current is None or holder != current["customer_id"]):
                errors.append(f"custnr {custnr} is already used by customer_id {holder}")
        if errors:
            raise ApiError(400, *errors)
        return values

    def _insert_customer(self, values: dict[str, Any]) -> int:
        customer_id = self.next_customer_id
        self.next_customer_id += 1
        customer = {
            "customer_id": customer_id,
            "name": "",
            "custnr": "",
            "corporateid": "",
            "email": "",
            "uuid": str(uuid.uuid4()),
            "dncs_class_name": "",
            "receive_monthly_report": 0,
            "freespee_caller_id": 0,
            **{f"custom_{n}": "" for n in range(1, CUSTOM_FIELD_COUNT + 1)},
            "removed": False,
            "removed_at": None,
        }
        customer.update(values)
        self.customers[customer_id] = customer
        self.custnr_index[customer["custnr"]] = customer_id
        self._changed()
        return customer_id

    def _customers_post(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        with self.lock:
            values = self._validate_customer(parameters, None)
            customer_id = self._insert_customer(values)
            return {"customers": [self._render_customer(self.customers[customer_id])]}

    def _customers_put(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        if not parameters.get("customer_id"):
            raise ApiError(400, "customer_id is mandatory")
        with self.lock:
            customer = self._customer(parameters["customer_id"])
            values = self._validate_customer(parameters, customer)
            if "custnr" in values and values["custnr"] != customer["custnr"]:
                del self.custnr_index[customer["custnr"]]
                self.custnr_index[values["custnr"]] = customer["customer_id"]
            customer.update(values)
            self._changed()
            return {"customers": [self._render_customer(customer)]}

    def _customers_delete(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        if not parameters.get("customer_id"):
            raise ApiError(400, "customer_id is mandatory")
        with self.lock:
            customer = self._customer(parameters["customer_id"])
            now = self.now()
            # Customers resource, DELETE: marked removed, all measures expired,
            # phone numbers cut to their ccndc, extra personal data removed.
            customer.update(
                removed=True,
                removed_at=now,
                email="",
                corporateid="",
                **{f"custom_{n}": "" for n in range(1, CUSTOM_FIELD_COUNT + 1)},
            )
            del self.custnr_index[customer["custnr"]]
            for source in self.sources.values():
                if source["customer_id"] != customer["customer_id"]:
                    continue
                if not source["expire"] or source["expire"] > now:
                    source["expire"] = now
                source.update(
                    phonenr=scrub_phonenr(source["phonenr"]),
                    smsnumber=scrub_phonenr(source["smsnumber"]),
                    email=None,
                    modified=now,
                )
            self._changed()
            return {"customers": [self._render_customer(customer)]}

    # --- sources -----------------------------------------------------------------

    def _source(self, source_id: str) -> dict[str, Any]:
        if not str(source_id).isdigit():
            raise ApiError(400, "source_id must be an integer")
        source = self.sources.get(int(source_id))
        if source is None:
            raise ApiError(404, f"source_id {source_id} not found")
        return source

    def source_status(self, source: dict[str, Any], now: str) -> str:
        """The lifecycle status of a source at `now`, computed from its timestamps."""
        override = source["status_override"]
        if override == "quarantined":
            return "archived" if now >= source["quarantine_ends"] else "quarantined"
        if override == "archived" or (source["expire"] and source["expire"] <= now):
            return "archived"
        if override:
            return override
        if source["timestamp"] > now:
            return "upcoming"
        return "extended" if source["extended"] else "active"

    def _render_source(self, source: dict[str, Any], now: str) -> dict[str, Any]:
        def text(value: Any) -> str | None:
            return None if value is None else str(value)

        return {
            "source_id": str(source["source_id"]),
            "name": source["name"],
            "email": source["email"],
            "smsnumber": source["smsnumber"],
            "media": source["media"],
            "customer_id": str(source["customer_id"]),
            "phonenr": source["phonenr"],
            "destnr": source["destnr"],
            "timestamp": source["timestamp"],
            "expire": source["expire"],
            "created": source["created"],
            "modified": source["modified"],
            "class": str(source["class"]),
            "status": self.source_status(source, now),
            "vm_greeting_id": text(source["vm_greeting_id"]),
            **{flag: str(source[flag]) for flag in SOURCE_FLAGS},
            "alt_numbers": list(source["alt_numbers"]),
        }

    def _sources_get(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            if by_id:
                source = self._source(parameters["source_id"])
                return {"sources": [self._render_source(source, now)]}
            page, pagesize = self._paging(parameters)
            if self._source_ids_cache is None:
                self._source_ids_cache = list(self.sources)
            ids = self._source_ids_cache
            if parameters.get("custnr"):
                holder = self.custnr_index.get(parameters["custnr"])
                ids = [i for i in ids if self.sources[i]["customer_id"] == holder]
            for name in ("customer_id", "source_id"):
                if parameters.get(name):
                    wanted = parameters[name]
                    ids = [i for i in ids if str(self.sources[i][name]) == wanted]
            for name in ("name", "media"):
                if name in parameters:
                    ids = [i for i in ids if self.sources[i][name] == parameters[name]]
            if parameters.get("status"):
                if parameters["status"] not in SOURCE_STATUSES:
                    raise ApiError(400, f"status must be one of {', '.join(SOURCE_STATUSES)}")
                ids = [
                    i
                    for i in ids
                    if self.source_status(self.sources[i], now) == parameters["status"]
                ]
            return self._page(
                "sources",
                ids,
                page,
                pagesize,
                lambda source_id: self._render_source(self.sources[source_id], now),
            )

    def _validate_source(
        self, parameters: dict[str, str], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        errors: list[str] = []
        values: dict[str, Any] = {}
        if current is None:
            for name in ("customer_id", "name", "media", "phonenr"):
                if not parameters.get(name, "").strip():
                    errors.append(f"{name} is mandatory")
            customer_id = parameters.get("customer_id", "").strip()
            if customer_id:
                customer = self.customers.get(int(customer_id)) if customer_id.isdigit() else None
                if customer is None or customer["removed"]:
                    errors.append(f"customer_id {customer_id} is not a customer")
                else:
                    values["customer_id"] = customer["customer_id"]
        for name, limit in SOURCE_LIMITS.items():
            if name in parameters:
                value = parameters[name].strip()
                if current is not None and name != "email" and not value:
                    errors.append(f"{name} cannot be empty")
                elif len(value) > limit:
                    errors.append(f"{name} is longer than {limit} characters")
                values[name] = value
        if "email" in values:
            values["email"] = values["email"] or None
            if values["email"] and not EMAIL_PATTERN.match(values["email"]):
                errors.append("email is not a valid email address")
        for name in ("phonenr", "smsnumber"):
            raw = parameters.get(name, "").strip()
            if name not in parameters or (name == "phonenr" and not raw):
                continue
            if not raw:
                values[name] = None
                continue
            try:
                values[name] = normalise_phonenr(raw)
            except InvalidPhoneNumber as exc:
                errors.append(f"{name} {exc}")
        for name in ("timestamp", "expire"):
            if name not in parameters:
                continue
            raw = parameters[name].strip()
            if not raw:
                if name == "expire":
                    values[name] = None
                continue
            try:
                moment = datetime.strptime(raw, TIMESTAMP_FORMAT)
            except ValueError:
                try:
                    moment = datetime.strptime(raw, "%Y-%m-%d")
                except ValueError:
                    errors.append(f"{name} must be a UTC time as YYYY-MM-DD HH:MM:SS")
                    continue
            values[name] = moment.strftime(TIMESTAMP_FORMAT)
        if "class" in parameters:
            if parameters["class"].isdigit():
                values["class"] = int(parameters["class"])
            else:
                errors.append("class must be a whole number")
        for flag in SOURCE_FLAGS:
            if flag in parameters:
                if parameters[flag] in ("0", "1"):
                    values[flag] = int(parameters[flag])
                else:
                    errors.append(f"{flag} must be 0 or 1")
        if "vm_greeting_id" in parameters:
            raw = parameters["vm_greeting_id"].strip()
            if raw and not raw.isdigit():
                errors.append("vm_greeting_id must be an integer")
            else:
                values["vm_greeting_id"] = int(raw) if raw else None
        timestamp = values.get("timestamp") or (current or {}).get("timestamp")
        expire = values.get("expire", (current or {}).get("expire"))
        if timestamp and expire and expire <= timestamp:
            errors.append("expire must be later than timestamp")
        if errors:
            raise ApiError(400, *errors)
        return values

    def _allocate_destnr(self) -> str:
        if self.pool_next < self.pool_size:
            index = self.pool_next
            self.pool_next += 1
            return f"{POOL_PREFIX}{index:07d}"
        # The fresh pool is used up: hand out a number whose sources are all
        # archived; a quarantined number is never reused.
        now = self.now()
        held = {
            source["destnr"]
            for source in self.sources.values()
            if self.source_status(source, now) != "archived"
        }
        for index in range(self.pool_size):
            number = f"{POOL_PREFIX}{index:07d}"
            if number not in held:
                return number
        raise ApiError(403, "destnr cannot be allocated: no tracking numbers are available")

    def _insert_source(self, values: dict[str, Any]) -> int:
        now = self.now()
        source_id = self.next_source_id
        destnr = self._allocate_destnr()
        self.next_source_id += 1
        source = {
            "source_id": source_id,
            "customer_id": 0,
            "name": "",
            "media": "",
            "email": None,
            "smsnumber": None,
            "phonenr": "",
            "destnr": destnr,
            # Without an activation date a source is active at once (getting started).
            "timestamp": now,
            "expire": None,
            "created": now,
            "modified": now,
            "class": 0,
            "vm_greeting_id": None,
            **dict.fromkeys(SOURCE_FLAGS, 0),
            "alt_numbers": [],
            "status_override": None,
            "extended": False,
            "quarantine_ends": None,
        }
        source.update(values)
        self.sources[source_id] = source
        self._changed()
        return source_id

    def _sources_post(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        with self.lock:
            values = self._validate_source(parameters, None)
            source_id = self._insert_source(values)
            return {"sources": [self._render_source(self.sources[source_id], self.now())]}

    def _sources_put(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        if not parameters.get("source_id"):
            raise ApiError(400, "source_id is mandatory")
        with self.lock:
            now = self.now()
            source = self._source(parameters["source_id"])
            status = self.source_status(source, now)
            if status in ("quarantined", "archived"):
                raise ApiError(403, f"source_id {source['source_id']} is {status}")
            values = self._validate_source(parameters, source)
            if source["expire"] and values.get("expire") and values["expire"] > source["expire"]:
                source["extended"] = True
            source.update(values, modified=now)
            self._changed()
            return {"sources": [self._render_source(source, now)]}

    def _sources_delete(self, parameters: dict[str, str], by_id: bool) -> dict[str, Any]:
        if not parameters.get("source_id"):
            raise ApiError(400, "source_id is mandatory")
        with self.lock:
            now = self.now()
            source = self._source(parameters["source_id"])
            # Deleting twice changes nothing: the source stays in its quarantine.
            if self.source_status(source, now) not in ("quarantined", "archived"):
                source.update(
                    status_override="quarantined",
                    quarantine_ends=_format_time(self.clock() + timedelta(days=QUARANTINE_DAYS)),
                    modified=now,
                )
                self._changed()
            return {"sources": [self._render_source(source, now)]}

    # --- statistics ----------------------------------------------------------------

    def _cdrs(self, parameters: dict[str, str]) -> dict[str, Any]:
        mandatory = ("customer_id", "start", "end")
        errors = [f"{name} is mandatory" for name in mandatory if not parameters.get(name)]
        if errors:
            raise ApiError(400, *errors)
        bounds = {}
        for name in ("start", "end"):
            raw = parameters[name].strip()
            for pattern in (TIMESTAMP_FORMAT, "%Y-%m-%d"):
                try:
                    bounds[name] = datetime.strptime(raw, pattern)
                    break
                except ValueError:
                    continue
            else:
                errors.append(f"{name} must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS")
        if errors:
            raise ApiError(400, *errors)
        start, end = bounds["start"], bounds["end"]
        if len(parameters["end"].strip()) == 10:
            end = end + timedelta(days=1) - timedelta(seconds=1)
        if end < start:
            raise ApiError(400, "end must not be before start")
        if (end - start).days >= CDR_MAX_DAYS:
            raise ApiError(400, f"end must be within {CDR_MAX_DAYS} days of start")
        page, pagesize = self._paging(parameters)
        with self.lock:
            customer = self._customer(parameters["customer_id"])
            owner = customer["customer_id"]
            sources = [dict(s) for s in self.sources.values() if s["customer_id"] == owner]
        calls = []
        day = start.replace(hour=0, minute=0, second=0)
        while day <= end:
            day_text = day.strftime("%Y-%m-%d")
            for source in sources:
                day_end = day_text + " 23:59:59"
                if source["timestamp"] > day_end or (
                    source["expire"] and source["expire"] <= day_text + " 00:00:00"
                ):
                    continue
                # A seed of source and day: the same question gets the same calls.
                generator = random.Random(f"{source['source_id']}-{day_text}")
                for index in range(generator.randint(0, 3)):
                    moment = day + timedelta(seconds=generator.randint(0, 86_399))
                    duration = generator.choice((0, generator.randint(5, 900)))
                    if not start <= moment <= end:
                        continue
                    calls.append(
                        {
                            "cdr_id": f"{source['source_id']}{day:%Y%m%d}{index}",
                            "customer_id": str(customer["customer_id"]),
                            "source_id": str(source["source_id"]),
                            "start": moment.strftime(TIMESTAMP_FORMAT),
                            "duration": str(duration),
                            "answered": "1" if duration else "0",
                            "anum": f"+4670{generator.randint(0, 9_999_999):07d}",
                            "destnr": source["destnr"],
                            "phonenr": source["phonenr"],
                        }
                    )
            day += timedelta(days=1)
        calls.sort(key=lambda call: (call["start"], call["cdr_id"]))
        return self._page("cdrs", calls, page, pagesize, lambda call: call)
