"""A faithful simulator of the SureVoIP RESTful hypermedia API (surevoip-api.txt).

Mounted at /surevoip/; one partner (`partner_name`) owns every login it accepts.
What it serves, all JSON (the doc's other formats are not simulated):

    GET              /                                   top level hypermedia (no auth)
    GET|POST|PUT     /support/echo                       echoes the body (auth optional)
    GET              /support/ip-address                 the caller's address (no auth)
    GET              /numbers                            free UK numbers (no auth)
    GET              /numbers/areacodes                  UK area codes (no auth)
    GET|POST         /customers                          the partner's customers; create
    GET|PUT|DELETE   /customers/{account}
    GET|POST         /customers/{account}/numbers        list; provision several
    GET|PUT|DELETE   /customers/{account}/numbers/{number}
    GET              /customers/{account}/sip            read-only SIP trunk state
    GET              /customers/{account}/calls          call detail records (none are made)
    GET              /customers/{account}/calls/stats
    …and every /customers route again under /partners/{partner}/.

List resources page with `page`, `limit` (default 50, at most `MAX_LIST_LIMIT`) and
`offset`; the number search defaults to 10 and returns at most 50 ("We only
allow 50 in a range to be checked"). Every request is counted against the
caller's hourly limit, keyed by login or, unauthenticated, by address.
"""

import hashlib
import json
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from integrations.sandbox import DEMO_SUREVOIP_PARTNER, ProviderSandbox, json_response

API_VERSION = "3.50"
DEFAULT_RATE_LIMIT_PER_HOUR = 5000
RATE_WINDOW_SECONDS = 3600
DEFAULT_LIST_LIMIT = 50
# The doc names no maximum page size; this sandbox serves up to 1000 entries a page.
MAX_LIST_LIMIT = 1000
SEARCH_DEFAULT_LIMIT = 10
SEARCH_MAX_LIMIT = 50
NOT_FOUND_MESSAGE = "Cannot find what you were looking for!"
NUMBER_FORMAT_MESSAGE = "Format is 447123123456. No + allowed"

# Real UK geographic area codes (national form) and the first local number of
# the block of free numbers each gets; every pool number is a valid UK number.
AREAS: dict[str, tuple[str, int]] = {
    "01223": ("Cambridge", 790000),
    "01224": ("Aberdeen", 900000),
    "01225": ("Bath", 470000),
    "01226": ("Barnsley", 730000),
    "01227": ("Canterbury", 760000),
    "01235": ("Abingdon", 520000),
    "01271": ("Barnstable", 320000),
    "01300": ("Cerne Abbas", 340000),
    "013393": ("Aboyne", 20000),
    "01358": ("Ellon", 720000),
    "01951": ("Colonsay", 200000),
    "0113": ("Leeds", 4960000),
    "0114": ("Sheffield", 4960000),
    "0115": ("Nottingham", 9110000),
    "0116": ("Leicester", 4960000),
    "0117": ("Bristol", 4960000),
    "0118": ("Reading", 4960000),
    "0121": ("Birmingham", 4960000),
    "0131": ("Edinburgh", 4960000),
    "0141": ("Glasgow", 4960000),
    "0151": ("Liverpool", 4960000),
    "0161": ("Manchester", 4960000),
    "020": ("London", 35150000),
    "02871": ("Londonderry", 220000),
    "029": ("Cardiff", 20180000),
}
POOL_SIZE_PER_AREA = 300

CUSTOMER_REQUIRED = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "address",
    "city",
    "postcode",
    "country",
)
CUSTOMER_OPTIONAL = ("company_name", "state", "fax", "company_website")
CUSTOMER_WRITABLE = CUSTOMER_REQUIRED + CUSTOMER_OPTIONAL
CUSTOMER_READ_ONLY = ("username", "balance", "creditlimit")
MAX_FIELD_LENGTH = 255
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()-]{6,20}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{3}$")
UK_NUMBER_PATTERN = re.compile(r"^44[1-9][0-9]{8,9}$")
# The doc's destinations: "SIP/01224900123@ip_address:5060", "sip:…@pbx.example.com:5060",
# or a number in digits ("441224824887").
SIP_DESTINATION_PATTERN = re.compile(
    r"^(?:SIP/|sip:)[A-Za-z0-9_.+*#-]+@[A-Za-z0-9_.-]+(?::[0-9]{1,5})?$"
)
NUMBER_DESTINATION_PATTERN = re.compile(r"^[0-9]{6,15}$")
CALL_STATUSES = (
    "answered",
    "all",
    "ringing",
    "in-progress",
    "failed",
    "busy",
    "no-answer",
    "not-completed",
)
KEYPAD = {
    letter: digit
    for digit, letters in {
        "2": "abc",
        "3": "def",
        "4": "ghi",
        "5": "jkl",
        "6": "mno",
        "7": "pqrs",
        "8": "tuv",
        "9": "wxyz",
    }.items()
    for letter in letters
}
TOP_LEVEL_RESOURCES = {
    "calls": "calls",
    "sms": "sms",
    "numbers": "numbers",
    "contact": "contact",
    "sip": "sip",
    "partners": "partners",
    "faxes": "faxes",
    "areacodes": "numbers/areacodes",
    "service-status": "support/service-status",
    "porting": "porting",
    "customers": "customers",
    "ip-address": "support/ip-address",
    "echo": "support/echo",
    "billing": "billing",
}
CUSTOMER_RESOURCES = (
    ("calls", "calls"),
    ("calls/stats", "call stats"),
    ("numbers", "numbers"),
    ("sip", "sip"),
)


def _pool() -> dict[str, tuple[str, int]]:
    """Every free-to-buy number: international digits -> (national area code, local number)."""
    pool = {}
    for areacode, (_, first) in AREAS.items():
        for local in range(first, first + POOL_SIZE_PER_AREA):
            pool[f"44{areacode[1:]}{local}"] = (areacode, local)
    return pool


POOL = _pool()


def _now() -> str:
    # RFC3339 as the doc's examples print it: "2017-01-16T09:56:17+00:00".
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _quality(local: int) -> tuple[str, int]:
    """A number's quality and one-off price: fewer distinct final digits, dearer.

    Matches the doc's examples: 900006 and 900101 are platinum (£500), 900224 gold (£250).
    """
    distinct = len(set(str(local)[-4:]))
    if distinct <= 2:
        return "platinum", 500
    if distinct == 3:
        return "gold", 250
    return "standard", 0


def _national(digits: str) -> str:
    """International digits (441224900999) to the national form (01224900999)."""
    return "0" + digits[2:] if digits.startswith("44") else digits


def _range_end(text: str) -> str:
    """One end of a `number_range` in national form: "+441224900111" -> "01224900111"."""
    digits = text.strip().removeprefix("+")
    return _national(digits) if digits.startswith("44") and len(digits) >= 11 else digits


def _flag(value: Any) -> str | None:
    """A 0/1 flag as the doc writes it ("1"), or None when it is not one."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | str) and str(value).strip() in ("0", "1"):
        return str(value).strip()
    return None


class _RequestError(Exception):
    """Ends a request with a provider-shaped error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _field_errors(errors: dict[str, list[str]]) -> _RequestError:
    # The doc's 400 body: {"errors":[{"message":[…],"field":"…"}]}.
    body = {"errors": [{"field": field, "message": messages} for field, messages in errors.items()]}
    return _RequestError(json_response(body, status=400))


def _not_found(message: str = NOT_FOUND_MESSAGE) -> _RequestError:
    return _RequestError(json_response({"error": message}, status=404))


ROUTES = Map(
    [
        Rule("/", endpoint="root", methods=["GET"]),
        Rule("/support/echo", endpoint="echo", methods=["GET", "POST", "PUT"]),
        Rule("/support/ip-address", endpoint="ip_address", methods=["GET"]),
        Rule("/numbers", endpoint="numbers_search", methods=["GET"]),
        Rule("/numbers/areacodes", endpoint="areacodes", methods=["GET"]),
    ]
    + [
        Rule(prefix + path, endpoint=endpoint, methods=methods)
        for prefix in ("", "/partners/<partner>")
        for path, endpoint, methods in (
            ("/customers", "customers", ["GET", "POST"]),
            ("/customers/<account>", "customer_resource", ["GET", "PUT", "DELETE"]),
            ("/customers/<account>/numbers", "numbers", ["GET", "POST"]),
            ("/customers/<account>/numbers/<number>", "number", ["GET", "PUT", "DELETE"]),
            ("/customers/<account>/sip", "sip", ["GET"]),
            ("/customers/<account>/calls", "calls", ["GET"]),
            ("/customers/<account>/calls/stats", "call_stats", ["GET"]),
        )
    ],
    strict_slashes=False,
)
PUBLIC_ENDPOINTS = frozenset({"root", "ip_address", "numbers_search", "areacodes"})


class SureVoIPSandbox(ProviderSandbox):
    """The SureVoIP API for one partner: customers, their numbers, number search."""

    name = "surevoip"

    def __init__(
        self,
        accounts: dict[str, str] | None = None,
        *,
        partner_name: str = DEMO_SUREVOIP_PARTNER,
        rate_limit_per_hour: int = DEFAULT_RATE_LIMIT_PER_HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partner_name = partner_name
        self.rate_limit_per_hour = rate_limit_per_hour
        self.clock = clock
        super().__init__(accounts)

    # -- state ---------------------------------------------------------------

    def reset(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        # International digits -> the number's record, with its owning account.
        self.numbers: dict[str, dict[str, Any]] = {}
        self.next_account = 1
        # Rate-limit key (login or address) -> [window start, requests counted].
        self.usage: dict[str, list[float]] = {}

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "partner_name": self.partner_name,
                "customers": json.loads(json.dumps(self.customers)),
                "numbers": json.loads(json.dumps(self.numbers)),
                "next_account": self.next_account,
            }

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.reset()
            self.customers = dict(state.get("customers", {}))
            self.numbers = dict(state.get("numbers", {}))
            self.next_account = int(state.get("next_account", len(self.customers) + 1))

    def fault_response(self, status: int) -> Response:
        if status == 400:
            return _field_errors({"request": ["Injected fault"]}).response
        messages = {
            401: "Authorization required",
            429: "Rate limit exceeded",
            503: "Service temporarily unavailable",
        }
        message = messages.get(status, f"Internal error (injected fault: HTTP {status})")
        response = json_response({"error": message}, status=status)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="SureVoIP API"'
        return self._finish(response, None)

    # -- dispatch ------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        routes = ROUTES.bind_to_environ(request.environ)
        login = None
        try:
            if request.method == "OPTIONS":
                allowed = routes.allowed_methods(request.path)
                if not allowed:
                    raise _not_found()
                allow = ", ".join(sorted({*allowed, "OPTIONS"}))
                return self._finish(Response("", status=200, headers={"Allow": allow}), None)
            try:
                endpoint, values = routes.match(request.path, method=request.method)
            except NotFound:
                raise _not_found() from None
            except MethodNotAllowed as exc:
                response = json_response({"error": "Method not allowed"}, status=405)
                response.headers["Allow"] = ", ".join(exc.valid_methods or [])
                raise _RequestError(response) from None
            self._check_content_type(request)
            login = self._authenticate(request, required=endpoint not in PUBLIC_ENDPOINTS)
            rate_headers = self._count(login or f"ip:{request.remote_addr}")
            with self.lock:
                response = getattr(self, f"_{endpoint}")(request, **values)
            response.headers.update(rate_headers)
        except _RequestError as error:
            response = error.response
        return self._finish(response, login)

    def _finish(self, response: Response, login: str | None) -> Response:
        response.headers["X-SureVoIP-API-Version"] = API_VERSION
        response.headers["Vary"] = "Content-Type"
        if login:
            response.headers["X-SureVoIP-API-Auth-User"] = login
        return response

    def _check_content_type(self, request: Request) -> None:
        # "?content-type=application/xml if using a GET" (Response Formats); JSON only here.
        wanted = request.args.get("content-type", "application/json")
        if wanted != "application/json":
            raise _RequestError(
                json_response(
                    {"error": f"This sandbox serves application/json only, not {wanted}"},
                    status=415,
                )
            )

    def _authenticate(self, request: Request, *, required: bool) -> str | None:
        """The login of a request with valid Basic credentials; 401 when they are wrong."""
        auth = request.authorization
        if auth is None and not required:
            return None
        if (
            auth is not None
            and auth.type == "basic"
            and auth.username in self.accounts
            and self.accounts[auth.username] == auth.password
        ):
            return auth.username
        response = json_response({"error": "Authorization required"}, status=401)
        response.headers["WWW-Authenticate"] = 'Basic realm="SureVoIP API"'
        raise _RequestError(response)

    def _count(self, key: str) -> dict[str, str]:
        """Count one request against the hourly limit; 429 past it (Rate Limiting)."""
        now = self.clock()
        with self.lock:
            window = self.usage.get(key)
            if window is None or now - window[0] >= RATE_WINDOW_SECONDS:
                window = self.usage[key] = [now, 0]
            over = window[1] >= self.rate_limit_per_hour
            if not over:
                window[1] += 1
            remaining = max(0, self.rate_limit_per_hour - int(window[1]))
            reset_seconds = max(0, math.ceil(window[0] + RATE_WINDOW_SECONDS - now))
        headers = {
            "X-SureVoIP-API-RateLimit-Limit": str(self.rate_limit_per_hour),
            "X-SureVoIP-API-RateLimit-Remaining": str(remaining),
            "X-SureVoIP-API-RateLimit-TimeToReset": (
                f"{reset_seconds // 60} mins {reset_seconds % 60} secs"
            ),
            "X-SureVoIP-API-RateLimit-TimeToResetSecs": str(reset_seconds),
        }
        if over:
            response = json_response(
                {"error": f"Rate limit exceeded: {self.rate_limit_per_hour} requests per hour"},
                status=429,
                headers=headers,
            )
            raise _RequestError(response)
        return headers

    # -- shared pieces -------------------------------------------------------

    @staticmethod
    def _hypermedia(request: Request) -> bool:
        return request.args.get("hypermedia", "yes") != "no"

    def _with_resources(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        if not self._hypermedia(request):
            return body
        root = request.root_url
        resources = {name: f"{root}{path}" for name, path in TOP_LEVEL_RESOURCES.items()}
        return {"resources": resources, **body}

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any]:
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return request.form.to_dict()
        text = request.get_data(as_text=True)
        if not text.strip():
            return {}
        try:
            body = json.loads(text)
        except ValueError:
            raise _field_errors({"body": ["Malformed JSON"]}) from None
        if not isinstance(body, dict):
            raise _field_errors({"body": ["Must be a JSON object"]})
        return body

    @staticmethod
    def _positive(request: Request, name: str, default: int) -> int:
        raw = request.args.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < (0 if name == "offset" else 1):
            raise _field_errors({name: ["Must be a positive whole number"]})
        return int(raw)

    def _envelope(
        self,
        request: Request,
        entries: list[dict[str, Any]],
        *,
        default_limit: int = DEFAULT_LIST_LIMIT,
        max_limit: int = MAX_LIST_LIMIT,
    ) -> Response:
        """A list resource page, in the envelope of the doc's List Filters section."""
        limit = min(self._positive(request, "limit", default_limit), max_limit)
        page = self._positive(request, "page", 1)
        offset = self._positive(request, "offset", 0)
        total = len(entries)
        last_page = max(1, math.ceil(max(0, total - offset) / limit))
        start = offset + (page - 1) * limit
        # The doc echoes query values as given: "limit":"5" when asked, 50 by default.
        shown_limit: int | str = str(limit) if "limit" in request.args else limit
        shown_page: int | str = str(page) if "page" in request.args else page
        page_links = None
        if self._hypermedia(request):
            base = request.base_url
            page_links = [
                {"href": f"{base}?page={number}&limit={limit}&offset={offset}", "title": title}
                for number, title in (
                    (1, "first_page"),
                    (max(1, page - 1), "previous_page"),
                    (page, "current_page"),
                    (min(last_page, page + 1), "next_page"),
                    (last_page, "last_page"),
                )
            ]
        body = {
            "entries_per_page": shown_limit,
            "last_page": last_page,
            "current_page": shown_page,
            "page_links": page_links,
            "next_page": page + 1 if page < last_page else None,
            "previous_page": page - 1 if page > 1 else None,
            "total_entries": str(total),
            "first_page": 1,
            "limit": shown_limit,
            "offset": offset,
            "list": entries[start : start + limit],
        }
        return json_response(self._with_resources(request, body))

    def _find_customer(self, account: str, partner: str | None = None) -> dict[str, Any]:
        if partner is not None and partner != self.partner_name:
            raise _not_found()
        customer = self.customers.get(account)
        if customer is None or customer["partner"] != self.partner_name:
            raise _not_found()
        return customer

    def _customer_url(self, request: Request, account: str) -> str:
        return f"{request.root_url}partners/{self.partner_name}/customers/{account}"

    def _number_url(self, request: Request, account: str, number: str) -> str:
        # The doc's number Locations live under the top level customer resource.
        return f"{request.root_url}customers/{account}/numbers/{number}"

    def _customer_body(self, request: Request, customer: dict[str, Any]) -> dict[str, Any]:
        fields = {key: customer[key] for key in CUSTOMER_WRITABLE + CUSTOMER_READ_ONLY}
        body = self._with_resources(request, fields)
        if self._hypermedia(request):
            base = f"{request.root_url}customers/{customer['username']}"
            urls = [{"href": f"{base}/{path}", "title": name} for path, name in CUSTOMER_RESOURCES]
            body["customer_resources"] = {"urls": urls}
        return body

    # -- support -------------------------------------------------------------

    def _root(self, request: Request) -> Response:
        return json_response(self._with_resources(request, {}))

    def _echo(self, request: Request) -> Response:
        # "POST or PUT data and get the same data back"; a GET echoes its query.
        if request.method == "GET":
            sent: Any = {k: v for k, v in request.args.items() if k != "hypermedia"}
        else:
            sent = self._json_body(request)
        return json_response(self._with_resources(request, {"echoed": sent}))

    def _ip_address(self, request: Request) -> Response:
        return json_response({"ip-address": request.remote_addr})

    # -- number search -------------------------------------------------------

    def _numbers_search(self, request: Request) -> Response:
        areacode = request.args.get("areacode", "").strip()
        number_filter = request.args.get("number_filter", "").strip()
        number_range = request.args.get("number_range", "").strip()
        errors: dict[str, list[str]] = {}
        if areacode and not areacode.isdigit():
            errors["areacode"] = ["Must be made up of digits"]
        if number_filter and not number_filter.isalnum():
            errors["number_filter"] = ["Must be made up of letters and digits"]
        ranges = self._ranges(number_range, errors)
        if errors:
            raise _field_errors(errors)
        wanted_area = "0" + areacode.lstrip("0") if areacode else ""
        digits_filter = "".join(KEYPAD.get(c, c) for c in number_filter.lower())
        entries = []
        for digits, (area, local) in POOL.items():
            if digits in self.numbers:
                continue
            national = _national(digits)
            if wanted_area and area != wanted_area:
                continue
            # The filter looks at the local number: "Ab" finds 900224, not every 01224 number.
            if digits_filter and digits_filter not in str(local):
                continue
            if ranges and not any(self._in_range(national, low, high) for low, high in ranges):
                continue
            quality, price = _quality(local)
            entries.append(
                {
                    "number_complete": national,
                    "number": local,
                    "number_areacode": area,
                    "number_one_off_price": price,
                    "number_detail": (
                        f"{local} is a <strong>{quality}</strong> number (£{price} one-off)"
                    ),
                    "number_quality": quality,
                }
            )
        entries.sort(key=lambda entry: entry["number_complete"])
        return self._envelope(
            request, entries, default_limit=SEARCH_DEFAULT_LIMIT, max_limit=SEARCH_MAX_LIMIT
        )

    @staticmethod
    def _ranges(text: str, errors: dict[str, list[str]]) -> list[tuple[str, str]]:
        """`01224900111,01224900120` (each) or `900111-900120` (from, to), both mixed."""
        ranges = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            low, _, high = item.partition("-")
            low, high = _range_end(low), _range_end(high or low)
            if not (low.isdigit() and high.isdigit()) or len(low) != len(high) or low > high:
                errors["number_range"] = [
                    "Give numbers or ranges of numbers of one length, e.g. 1000-1999,3000"
                ]
                return []
            ranges.append((low, high))
        return ranges

    @staticmethod
    def _in_range(national: str, low: str, high: str) -> bool:
        # A complete number matches itself; a shorter one matches the number's last digits.
        tail = national[-len(low) :]
        return len(national) >= len(low) and low <= tail <= high

    def _areacodes(self, request: Request) -> Response:
        area_filter = request.args.get("area_filter", "").strip().lower()
        areacode = request.args.get("areacode", "").strip()
        areaname = request.args.get("areaname", "").strip().lower()
        if areacode and not areacode.isdigit():
            raise _field_errors({"areacode": ["Must be made up of digits"]})
        entries = []
        for code, (place, _) in sorted(AREAS.items()):
            if area_filter:
                if area_filter.isdigit():
                    if area_filter.lstrip("0") not in code[1:]:
                        continue
                elif area_filter not in place.lower():
                    continue
            if areacode and areacode.lstrip("0") not in code[1:]:
                continue
            if areaname and areaname not in place.lower():
                continue
            entries.append({"areacode": code, "areaname": f"{place} ({code})"})
        return self._envelope(request, entries, default_limit=SEARCH_DEFAULT_LIMIT)

    # -- customers -----------------------------------------------------------

    def _customers(self, request: Request, partner: str | None = None) -> Response:
        if partner is not None and partner != self.partner_name:
            raise _not_found()
        if request.method == "POST":
            return self._customer_create(request)
        entries = [
            {
                **{key: customer[key] for key in CUSTOMER_WRITABLE + CUSTOMER_READ_ONLY},
                "url": {"href": self._customer_url(request, account), "title": account},
            }
            for account, customer in self.customers.items()
            if customer["partner"] == self.partner_name
        ]
        return self._envelope(request, entries)

    def _customer_create(self, request: Request) -> Response:
        body = self._json_body(request)
        errors = self._customer_errors(body, creating=True)
        if errors:
            raise _field_errors(errors)
        account = f"sv{self.next_account:06d}"
        self.next_account += 1
        customer = {key: str(body.get(key) or "") for key in CUSTOMER_WRITABLE}
        customer.update(
            {
                "username": account,
                "balance": "0.00000",
                "creditlimit": "0",
                "partner": self.partner_name,
                "created_date": _now(),
                # "This creates a customer account, SIP account and billing account."
                "sip_password": hashlib.sha256(f"sip:{account}".encode()).hexdigest()[:16],
            }
        )
        self.customers[account] = customer
        location = self._customer_url(request, account)
        body = {"location": location, **self._customer_body(request, customer)}
        return json_response(body, status=201, headers={"Location": location})

    @staticmethod
    def _customer_errors(body: dict[str, Any], *, creating: bool) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for field in CUSTOMER_WRITABLE:
            if field not in body and not creating:
                continue
            value = body.get(field)
            label = field.replace("_", " ").capitalize()
            if value is None or value == "":
                if field in CUSTOMER_REQUIRED:
                    errors[field] = [f"{label} field is required"]
                continue
            if not isinstance(value, str):
                errors[field] = ["Must be text"]
            elif len(value) > MAX_FIELD_LENGTH:
                errors[field] = [f"Must be at most {MAX_FIELD_LENGTH} characters"]
            elif field == "email" and not EMAIL_PATTERN.match(value):
                errors[field] = ["Must be a valid e-mail address"]
            elif field in ("phone", "fax") and not PHONE_PATTERN.match(value):
                errors[field] = ["Must be a telephone number, e.g. 01224 279484"]
            elif field == "country" and not COUNTRY_PATTERN.match(value):
                errors[field] = ["Must be an ISO 3166-1 alpha-3 country code, e.g. GBR"]
        return errors

    def _customer_resource(
        self, request: Request, account: str, partner: str | None = None
    ) -> Response:
        customer = self._find_customer(account, partner)
        if request.method == "GET":
            return json_response(self._customer_body(request, customer))
        if request.method == "DELETE":
            del self.customers[account]
            # The account's numbers return to the free pool with it.
            for number in [n for n, record in self.numbers.items() if record["account"] == account]:
                del self.numbers[number]
            return json_response({"deleted": self._customer_url(request, account)})
        body = self._json_body(request)
        errors = self._customer_errors(body, creating=False)
        # "we only allow certain fields to be updated … Other fields are read-only".
        for field in CUSTOMER_READ_ONLY:
            if field in body and str(body[field]) != customer[field]:
                errors[field] = ["Read-only field"]
        if errors:
            raise _field_errors(errors)
        for field in CUSTOMER_WRITABLE:
            if field in body:
                customer[field] = str(body[field] or "")
        return json_response(self._customer_body(request, customer))

    # -- customer numbers ----------------------------------------------------

    def _numbers(self, request: Request, account: str, partner: str | None = None) -> Response:
        self._find_customer(account, partner)
        if request.method == "POST":
            return self._numbers_create(request, account)
        entries = [
            {
                "country": "United Kingdom",
                "activated": record["activated"],
                "number": number,
                "url": {"href": self._number_url(request, account, number), "title": number},
                "created_date": record["number_created_date"],
            }
            for number, record in self.numbers.items()
            if record["account"] == account
        ]
        return self._envelope(request, entries)

    def _numbers_create(self, request: Request, account: str) -> Response:
        """Several numbers in one POST ("POST multiple numbers to a customer account")."""
        entries = self._json_body(request).get("numbers")
        if not isinstance(entries, list) or not entries:
            raise _field_errors({"numbers": ["Give a list of numbers"]})
        errors: dict[str, list[str]] = {}
        seen: set[str] = set()
        for entry in entries:
            entry_errors = self._number_errors(entry, account)
            number = str(entry.get("number", "")) if isinstance(entry, dict) else ""
            if number in seen:
                entry_errors.setdefault("number", []).append("Given more than once")
            seen.add(number)
            for field, messages in entry_errors.items():
                errors.setdefault(field, []).extend(f"{number}: {m}" for m in messages)
        if errors:
            raise _field_errors(errors)
        created = [self._number_save(account, entry) for entry in entries]
        location = f"{request.root_url}customers/{account}/numbers"
        body = {
            "location": location,
            "numbers": [
                {"location": self._number_url(request, account, number), "number": number}
                for number, _ in created
            ],
        }
        return json_response(body, status=201, headers={"Location": location})

    def _number(
        self, request: Request, account: str, number: str, partner: str | None = None
    ) -> Response:
        self._find_customer(account, partner)
        record = self.numbers.get(number)
        if request.method == "PUT":
            return self._number_put(request, account, number)
        if record is None or record["account"] != account:
            raise _not_found()
        if request.method == "DELETE":
            # Released: the number is free to search and buy again.
            del self.numbers[number]
            return json_response({"released": number})
        body = {
            "numbers": [
                {
                    "priority": record["priority"],
                    "country": "United Kingdom",
                    "activated": record["activated"],
                    "number": number,
                    "destination": record["destination"],
                    "country_code": "GBR",
                    "number_created_date": record["number_created_date"],
                    "sent_via_sip": record["sent_via_sip"],
                    "destination_created_date": record["destination_created_date"],
                    "country_prefix": "44",
                    "total_call_time_secs": record["total_call_time_secs"],
                    "ported": record["ported"],
                }
            ]
        }
        return json_response(self._with_resources(request, body))

    def _number_put(self, request: Request, account: str, number: str) -> Response:
        """Create or update one number at its own URL ("as you're in control of the number")."""
        body = self._json_body(request)
        entries = body.get("numbers", [body])
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
            raise _field_errors({"numbers": ["Give exactly one number"]})
        entry = {"number": number, **entries[0]}
        errors = self._number_errors(entry, account)
        if str(entry["number"]) != number and "number" not in errors:
            errors["number"] = [f"Does not match the number in the URL ({number})"]
        if errors:
            raise _field_errors(errors)
        _, created = self._number_save(account, entry)
        location = self._number_url(request, account, number)
        return json_response(
            {"location": location, "number": number},
            status=201 if created else 200,
            headers={"Location": location},
        )

    def _number_errors(self, entry: Any, account: str) -> dict[str, list[str]]:
        if not isinstance(entry, dict):
            return {"numbers": ["Each number must be an object"]}
        errors: dict[str, list[str]] = {}
        number = entry.get("number")
        if not isinstance(number, str | int) or not UK_NUMBER_PATTERN.match(str(number)):
            errors["number"] = [NUMBER_FORMAT_MESSAGE]
        else:
            owner = self.numbers.get(str(number), {}).get("account")
            if owner is not None and owner != account:
                errors["number"] = ["Number is already in use on another account"]
        destination = entry.get("destination")
        if destination not in (None, "") and not (
            isinstance(destination, str)
            and (
                SIP_DESTINATION_PATTERN.match(destination)
                or NUMBER_DESTINATION_PATTERN.match(destination)
            )
        ):
            errors["destination"] = [
                NUMBER_FORMAT_MESSAGE
                if isinstance(destination, str) and destination.startswith("+")
                else "Must be a SIP URI (SIP/user@host:5060 or sip:user@host:5060) "
                "or a number in digits, e.g. 441224824887"
            ]
        for field in ("activated", "ported", "voip_call"):
            if field in entry and _flag(entry[field]) is None:
                errors[field] = ["Must be 0 or 1"]
        return errors

    def _number_save(self, account: str, entry: dict[str, Any]) -> tuple[str, bool]:
        """Create or update a validated number; returns it and whether it was created."""
        number = str(entry["number"])
        record = self.numbers.get(number)
        created = record is None
        now = _now()
        if record is None:
            record = self.numbers[number] = {
                "account": account,
                "priority": "1",
                "destination": "",
                "activated": "1",
                "ported": "0",
                "sent_via_sip": "0",
                "number_created_date": now,
                "destination_created_date": now,
                "total_call_time_secs": "0",
            }
        destination = entry.get("destination")
        if destination is not None and destination != record["destination"]:
            record["destination"] = destination
            record["destination_created_date"] = now
            record["sent_via_sip"] = "1" if SIP_DESTINATION_PATTERN.match(destination) else "0"
        for field in ("activated", "ported"):
            if field in entry:
                record[field] = _flag(entry[field])
        if "voip_call" in entry:
            record["sent_via_sip"] = _flag(entry["voip_call"])
        return number, created

    # -- SIP trunk and calls -------------------------------------------------

    def _sip(self, request: Request, account: str, partner: str | None = None) -> Response:
        customer = self._find_customer(account, partner)
        first_number = next(
            (_national(n) for n, record in self.numbers.items() if record["account"] == account),
            "",
        )
        entry = {
            "caller_id_name": first_number,
            "sip_password": customer["sip_password"],
            "caller_id_number": first_number,
            "dtmf": "RFC2833",
            "sip_username": account,
            "sip_codecs": "ulaw,alaw,gsm,g729",
        }
        return self._envelope(request, [entry])

    def _calls(self, request: Request, account: str, partner: str | None = None) -> Response:
        self._find_customer(account, partner)
        status = request.args.get("status", "answered")
        if status not in CALL_STATUSES:
            raise _field_errors({"status": [f"Must be one of {', '.join(CALL_STATUSES)}"]})
        # No calls are made through a sandbox: the call detail records are empty.
        return self._envelope(request, [])

    def _call_stats(self, request: Request, account: str, partner: str | None = None) -> Response:
        self._find_customer(account, partner)
        numbers = [record for record in self.numbers.values() if record["account"] == account]
        stats = {
            "account": account,
            "numbers": str(len(numbers)),
            "calls": "0",
            "total_call_time_secs": str(
                sum(int(record["total_call_time_secs"]) for record in numbers)
            ),
            "cost": "0.000000",
        }
        return json_response(self._with_resources(request, {"stats": stats}))
