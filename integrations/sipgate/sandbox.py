"""A simulator of the sipgate REST API (sipgate-rest-api.txt), mounted at /sipgate/.

One sipgate account per customer: each login in `self.accounts` is a web user
with its own numbers, extensions, balance and sent SMS. Paths are the doc's,
with their trailing slashes: `/{userId}/settings/numbers/`, where `my` is the
alias of the authenticated user and a user's own id works too.

Where the doc is silent, the sandbox decides, and says so here:

- Authentication is HTTP Basic with the account's login; 401 otherwise.
- Every resource requires the `version` parameter ("Specifies the handler
  version", e.g. 2.41.0); without it, or malformed, 400.
- Responses are XML unless the client asks for JSON with `Accept:
  application/json`. In XML the root element is the doc's struct name
  (`<extension>`, `<dnd>`, `<balance>`), each field an element, each array
  element repeated under its array (`<incomingNumbers><number>…`). In JSON the
  struct's fields are the top-level object.
- `complexity`: the doc tags some fields SIMPLE (an extension's sipPassword,
  pin…, the balance's vouchers). They are returned only when `complexity` is
  given (`simple` or `full`); `full` also gives them for every item of a list.
  Any other value is a 400.
- Setting a value (outgoing number, DND) follows the doc's convention for the
  read/starred properties: the new value is the `value` parameter.
- Errors have the body `<error><code/><message/><parameter/></error>` (JSON:
  `{"code", "message", "parameter"}`); `parameter` names the offending one.
"""

import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import phonenumbers
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from integrations.sandbox import ProviderSandbox

VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")
COMPLEXITIES = ("simple", "full")
# "Maximum 160 characters per Message, if more the Message will be split up into
# multiple messages. The absolute maximum is 460 characters" (POST events/sms).
SMS_PART_LENGTH = 160
SMS_MAX_LENGTH = 460
SMS_PRICE_CENTS = 9
SCHEDULE_FORMAT = "%Y-%m-%d %H:%M:%S"
EXTENSION_TYPES = ("sms", "fax", "voicemail", "register", "external")
# The element each item of an array is written as in XML.
XML_ITEMS = {
    "extensions": "extension",
    "incomingNumbers": "number",
    "directDialNumbers": "number",
    "devices": "device",
    "phonenumbers": "phonenumber",
    "numbers": "number",
    "outgoingNumbers": "outgoingNumber",
    "events": "sms",
    "sources": "source",
    "targets": "target",
    "smsVouchers": "voucher",
    "minuteVouchers": "voucher",
    "faxVouchers": "voucher",
}

ROUTES = Map(
    [
        Rule("/<user_id>/settings/numbers/", endpoint="numbers", methods=["GET"]),
        Rule("/<user_id>/settings/numbers/list/", endpoint="numbers_list", methods=["GET"]),
        Rule(
            "/<user_id>/settings/numbers/outgoing/",
            endpoint="outgoing",
            methods=["GET", "POST"],
        ),
        Rule("/<user_id>/settings/extensions/", endpoint="extensions", methods=["GET"]),
        Rule(
            "/<user_id>/settings/extensions/<extension_id>/",
            endpoint="extension",
            methods=["GET"],
        ),
        Rule(
            "/<user_id>/settings/extensions/<extension_id>/dnd/",
            endpoint="dnd",
            methods=["GET", "POST"],
        ),
        Rule("/<user_id>/settings/baseproducttype/", endpoint="base_product_type", methods=["GET"]),
        Rule("/<user_id>/billing/balance/", endpoint="balance", methods=["GET"]),
        Rule("/<user_id>/events/sms/", endpoint="sms", methods=["GET", "POST"]),
        Rule("/<user_id>/events/sms/<sms_id>/", endpoint="sms_one", methods=["GET"]),
    ],
    strict_slashes=True,
)


class SipgateError(Exception):
    """An error answered in sipgate's error body."""

    def __init__(self, status: int, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def pretty(e164: str) -> str:
    """A number in the doc's `numberPretty` form."""
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def number_struct(e164: str) -> dict[str, str]:
    return {"numberE164": e164, "numberPretty": pretty(e164) if e164 else ""}


def to_xml(root: str, value: Any) -> bytes:
    """A struct as the sandbox writes XML: the struct name as root, one element per field."""
    element = ElementTree.Element(root)
    _fill_xml(element, root, value)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)


def _fill_xml(element: ElementTree.Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill_xml(ElementTree.SubElement(element, key), key, item)
    elif isinstance(value, list):
        for item in value:
            child_name = XML_ITEMS.get(name, "item")
            _fill_xml(ElementTree.SubElement(element, child_name), child_name, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def normalise_number(raw: str) -> str | None:
    """A number given as `+49…`, `49…` or `tel:+49…`, in E.164; None when not valid."""
    text = raw.strip().removeprefix("tel:")
    if text.isdigit():
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class SipgateSandbox(ProviderSandbox):
    """The sipgate REST API: numbers, extensions, outgoing numbers, DND, balance, SMS."""

    name = "sipgate"

    def __init__(self, accounts: dict[str, str] | None = None) -> None:
        # reset() forgets logins tests added and goes back to these.
        self.initial_accounts = dict(accounts or {})
        super().__init__(accounts)

    # State -------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.accounts = dict(self.initial_accounts)
            self.logins: dict[str, str] = {}
            self.users: dict[str, dict[str, Any]] = {}
            self.next_user_index = 0
            self.next_sms_id = 1
            for username in sorted(self.accounts):
                self._user_seed(username)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(
                json.dumps(
                    {
                        "logins": self.logins,
                        "users": self.users,
                        "next_user_index": self.next_user_index,
                        "next_sms_id": self.next_sms_id,
                    }
                )
            )

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.logins = dict(state["logins"])
            self.users = state["users"]
            self.next_user_index = state["next_user_index"]
            self.next_sms_id = state["next_sms_id"]
            # A login the saved state has not seen yet gets its default account.
            for username in sorted(self.accounts):
                if username not in self.logins:
                    self._user_seed(username)

    def account_add(self, username: str, password: str) -> str:
        """Add a login with a default account (for tests and demos); returns its user id."""
        with self.lock:
            self.accounts[username] = password
            return self._user_seed(username)

    def number_add(self, user_id: str, e164: str, extension_id: str = "") -> None:
        """Give a user another number, routed to `extension_id` or to none."""
        with self.lock:
            user = self.users[user_id]
            user["numbers"].append({"numberE164": e164, "type": "landline"})
            if extension_id:
                user["extensions"][extension_id]["incomingNumbers"].append(e164)

    def extension_add(
        self, user_id: str, extension_id: str, extension_type: str, alias: str = ""
    ) -> None:
        """Give a user another extension."""
        with self.lock:
            self.users[user_id]["extensions"][extension_id] = _extension(
                extension_type, alias or extension_id
            )

    def _user_seed(self, username: str) -> str:
        """A sensible default account: numbers in Düsseldorf (0211), extensions, balance."""
        if username in self.logins:
            return self.logins[username]
        index = self.next_user_index
        self.next_user_index += 1
        user_id = f"{4711000 + index}w0"
        prefix = f"+4921158{index % 100:02d}"
        main, second, sales, fax, spare = (
            f"{prefix}{suffix}" for suffix in ("100", "101", "102", "200", "300")
        )
        extensions = {
            "e0": _extension("register", "Zentrale", incoming=[main, second], outgoing=main),
            "e1": _extension("register", "Vertrieb", incoming=[sales], outgoing=""),
            "f0": _extension("fax", "Fax", incoming=[fax], outgoing=fax),
            "v0": _extension("voicemail", "Voicemail"),
            "s0": _extension("sms", "SMS"),
        }
        extensions["e0"]["directDialNumbers"] = [second]
        self.logins[username] = user_id
        self.users[user_id] = {
            "userId": user_id,
            "login": username,
            "baseProductType": "team",
            "numbers": [
                {"numberE164": number, "type": "landline"}
                for number in (main, second, sales, fax, spare)
            ],
            "extensions": extensions,
            # "needs to be verified before it can be used as source number" (POST events/sms).
            "verifiedSources": ["+4915112345678"],
            "balanceCents": 5000,
            "smsCredits": 100,
            "sms": [],
        }
        return user_id

    # Dispatch ----------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        as_json = wants_json(request)
        try:
            username = self._authenticate(request)
            try:
                endpoint, arguments = ROUTES.bind_to_environ(request.environ).match()
            except MethodNotAllowed:
                raise SipgateError(405, "Method not allowed on this resource.") from None
            except NotFound:
                raise SipgateError(404, "Resource not found.") from None
            version = request.values.get("version", "")
            if not version:
                raise SipgateError(400, "The parameter 'version' is required.", "version")
            if not VERSION_PATTERN.match(version):
                raise SipgateError(400, f"Unknown handler version '{version}'.", "version")
            complexity = request.values.get("complexity", "")
            if complexity and complexity not in COMPLEXITIES:
                raise SipgateError(
                    400, "complexity must be 'simple' or 'full'.", parameter="complexity"
                )
            user_id = self._user_id(username, arguments.pop("user_id"))
            handler = getattr(self, f"handle_{endpoint}_{request.method.lower()}")
            with self.lock:
                root, body = handler(request, self.users[user_id], complexity, **arguments)
            return respond(root, body, as_json)
        except SipgateError as error:
            return error_response(error, as_json)
        except HTTPException as exc:
            # A path without its trailing slash: werkzeug's redirect to the slashed form.
            return exc.get_response(request.environ)

    def fault_response(self, status: int) -> Response:
        # Injected faults answer in the default format, XML, like sipgate's own errors.
        messages = {
            401: "Authentication failed.",
            429: "Too many requests.",
            503: "Service temporarily unavailable.",
        }
        error = SipgateError(status, messages.get(status, f"HTTP error {status}."))
        return error_response(error, as_json=False)

    def _authenticate(self, request: Request) -> str:
        authorization = request.authorization
        if authorization is None or authorization.type != "basic":
            raise SipgateError(401, "Authentication required.")
        username = authorization.username or ""
        password = self.accounts.get(username)
        given = (authorization.password or "").encode()
        if password is None or not hmac.compare_digest(password.encode(), given):
            raise SipgateError(401, "Authentication failed.")
        return username

    def _user_id(self, username: str, path_user_id: str) -> str:
        """`my` or the user's own id; another user's id is forbidden, an unknown one not found."""
        with self.lock:
            own = self.logins.get(username) or self._user_seed(username)
            if path_user_id in ("my", own):
                return own
            if path_user_id in self.users:
                raise SipgateError(403, "Access to this user is not permitted.")
            raise SipgateError(404, f"Unknown user '{path_user_id}'.")

    # Handlers: each returns (the struct name, the struct) and runs under the lock.

    def handle_numbers_get(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        # "all user provided numbers": the ones routed to one of the user's extensions.
        routed = _routing(user)
        phonenumbers_struct = [
            _number_view(number, routed)
            for number in user["numbers"]
            if number["numberE164"] in routed
        ]
        return "Numbers", {
            "allowAdd": False,
            "allowEmptyOadc": True,
            "phonenumbers": phonenumbers_struct,
        }

    def handle_numbers_list_get(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        # "every single number from account", routed or not.
        routed = _routing(user)
        return "numbers", {"numbers": [_number_view(number, routed) for number in user["numbers"]]}

    def handle_outgoing_get(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        return "outgoingNumber", {"outgoingNumbers": _outgoing_view(user)}

    def handle_outgoing_post(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        extension_id = request.values.get("extensionId", "")
        extension = user["extensions"].get(extension_id)
        if extension is None:
            raise SipgateError(400, f"Unknown extension '{extension_id}'.", "extensionId")
        if extension["type"] == "voicemail":
            raise SipgateError(400, "A voicemail extension has no outgoing number.", "extensionId")
        raw = request.values.get("value", "")
        if raw == "":
            # allowEmptyOadc: an extension may call without a number (anonymous).
            extension["outgoingNumber"] = ""
        else:
            e164 = normalise_number(raw)
            owned = {number["numberE164"] for number in user["numbers"]}
            if e164 is None or e164 not in owned:
                raise SipgateError(400, f"'{raw}' is not a number of this account.", "value")
            extension["outgoingNumber"] = e164
        return "outgoingNumber", {"outgoingNumbers": _outgoing_view(user)}

    def handle_extensions_get(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        detail = complexity == "full"
        return "extensions", {
            "extensions": [
                _extension_view(request, user, extension_id, detail)
                for extension_id in user["extensions"]
            ]
        }

    def handle_extension_get(
        self, request: Request, user: dict[str, Any], complexity: str, extension_id: str
    ) -> tuple[str, Any]:
        _extension_or_404(user, extension_id)
        return "extension", _extension_view(request, user, extension_id, bool(complexity))

    def handle_dnd_get(
        self, request: Request, user: dict[str, Any], complexity: str, extension_id: str
    ) -> tuple[str, Any]:
        return "dnd", {"value": _extension_or_404(user, extension_id)["dnd"]}

    def handle_dnd_post(
        self, request: Request, user: dict[str, Any], complexity: str, extension_id: str
    ) -> tuple[str, Any]:
        extension = _extension_or_404(user, extension_id)
        raw = request.values.get("value", "").lower()
        if raw not in ("true", "false"):
            raise SipgateError(400, "value must be 'true' or 'false'.", "value")
        extension["dnd"] = raw == "true"
        return "dnd", {"value": extension["dnd"]}

    def handle_base_product_type_get(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        # The doc's field list for this resource repeats the extension struct, an
        # evident copy; "returns the base product type" is answered like DND's value.
        return "baseProductType", {"value": user["baseProductType"]}

    def handle_balance_get(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        balance: dict[str, Any] = {
            "currency": "EUR",
            "totalIncludingVat": round(user["balanceCents"] / 100, 2),
            "vatPercent": 19.0,
        }
        if complexity:
            balance["smsVouchers"] = [
                {
                    "redeemDate": "2024-01-02 10:00:00",
                    "endOfValidityDate": "2026-01-02 10:00:00",
                    "creditsInit": "100",
                    "creditsUsed": str(100 - user["smsCredits"]),
                    "creditsLeft": str(user["smsCredits"]),
                }
            ]
            balance["minuteVouchers"] = []
            balance["faxVouchers"] = []
        return "balance", balance

    def handle_sms_get(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        # Paged with limit/offset as the doc defines them for contacts; overallCount
        # counts all, count the ones returned ("the output may be limited").
        offset = _non_negative(request, "offset", 0)
        limit = _non_negative(request, "limit", len(user["sms"]))
        page = user["sms"][offset : offset + limit]
        return "eventlist", {
            "events": [_sms_view(request, user, sms) for sms in page],
            "overallCount": len(user["sms"]),
            "count": len(page),
        }

    def handle_sms_one_get(
        self, request: Request, user: dict[str, Any], complexity: str, sms_id: str
    ) -> tuple[str, Any]:
        for sms in user["sms"]:
            if sms["id"] == sms_id:
                return "sms", _sms_view(request, user, sms)
        raise SipgateError(404, f"Unknown sms event '{sms_id}'.")

    def handle_sms_post(
        self, request: Request, user: dict[str, Any], complexity: str
    ) -> tuple[str, Any]:
        content = request.values.get("content", "")
        if not content:
            raise SipgateError(400, "The parameter 'content' is required.", "content")
        if len(content) > SMS_MAX_LENGTH:
            raise SipgateError(
                400,
                f"The content has {len(content)} characters; at most {SMS_MAX_LENGTH} are allowed.",
                "content",
            )
        raw_targets = request.values.getlist("target")
        if not raw_targets:
            raise SipgateError(400, "At least one target is required.", "target")
        targets = []
        for raw in raw_targets:
            e164 = normalise_number(raw)
            if e164 is None:
                raise SipgateError(400, f"'{raw}' is not a valid recipient number.", "target")
            targets.append(e164)
        source = ""
        if request.values.get("source"):
            source = normalise_number(request.values["source"]) or ""
            if source not in user["verifiedSources"]:
                raise SipgateError(
                    400, "The source number has not been verified for this account.", "source"
                )
        scheduled = ""
        if request.values.get("schedule"):
            try:
                datetime.strptime(request.values["schedule"], SCHEDULE_FORMAT)
            except ValueError:
                raise SipgateError(
                    400, "schedule must be 'YYYY-MM-DD HH:MM:SS' (UTC).", "schedule"
                ) from None
            scheduled = request.values["schedule"]
        # "if more the Message will be split up into multiple messages": one SMS
        # event per 160-character part and per target, each one billed.
        parts = [
            content[start : start + SMS_PART_LENGTH]
            for start in range(0, len(content), SMS_PART_LENGTH)
        ]
        now = datetime.now(UTC).strftime(SCHEDULE_FORMAT)
        created = []
        for target in targets:
            for text in parts:
                sms = {
                    "id": str(self.next_sms_id),
                    "text": text,
                    "target": target,
                    "source": source,
                    "created": now,
                    "scheduled": scheduled,
                    "sent": "" if scheduled else now,
                    "status": "scheduled" if scheduled else "sent",
                }
                self.next_sms_id += 1
                user["sms"].append(sms)
                created.append(sms)
                if user["smsCredits"] > 0:
                    user["smsCredits"] -= 1
                else:
                    user["balanceCents"] -= SMS_PRICE_CENTS
        return "eventlist", {
            "events": [_sms_view(request, user, sms) for sms in created],
            "overallCount": len(created),
            "count": len(created),
        }


# Views and helpers ----------------------------------------------------------


def _extension(
    extension_type: str, alias: str, incoming: list[str] | None = None, outgoing: str = ""
) -> dict[str, Any]:
    if extension_type not in EXTENSION_TYPES:
        raise ValueError(f"extension type must be one of {', '.join(EXTENSION_TYPES)}")
    # The fields the doc tags SIMPLE, per extension type.
    details: dict[str, Any] = {
        "register": {
            "sipPassword": f"{alias.lower()}-7Hq2x9Lm",
            "registerUrl": "sipgate.de",
            "outboundProxyUrl": "sipgate.de",
        },
        "fax": {"faxIn": True},
        "voicemail": {"pin": "4711", "timezone": "Europe/Berlin", "announcementUrl": ""},
        "external": {"provider": "", "externalPhonenumber": ""},
        "sms": {},
    }[extension_type]
    return {
        "alias": alias,
        "type": extension_type,
        "incomingNumbers": list(incoming or []),
        "directDialNumbers": [],
        "dnd": False,
        "outgoingNumber": outgoing,
        "details": details,
    }


def _extension_or_404(user: dict[str, Any], extension_id: str) -> dict[str, Any]:
    extension = user["extensions"].get(extension_id)
    if extension is None:
        raise SipgateError(404, f"Unknown extension '{extension_id}'.")
    return extension


def _routing(user: dict[str, Any]) -> dict[str, str]:
    """Each routed number -> the extension it rings."""
    return {
        number: extension_id
        for extension_id, extension in user["extensions"].items()
        for number in extension["incomingNumbers"]
    }


def _number_view(number: dict[str, Any], routed: dict[str, str]) -> dict[str, Any]:
    return {
        **number_struct(number["numberE164"]),
        "type": number["type"],
        "extensionId": routed.get(number["numberE164"], ""),
    }


def _outgoing_view(user: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"extensionId": extension_id, **number_struct(extension["outgoingNumber"])}
        for extension_id, extension in user["extensions"].items()
        if extension["type"] != "voicemail"
    ]


def _user_url(request: Request, user: dict[str, Any]) -> str:
    # Links carry the real user id, never `my`: this is how a client learns its id.
    return f"{request.url_root}{user['userId']}"


def _extension_view(
    request: Request, user: dict[str, Any], extension_id: str, detail: bool
) -> dict[str, Any]:
    extension = user["extensions"][extension_id]
    url = f"{_user_url(request, user)}/settings/extensions/{extension_id}/"
    view = {
        "extensionId": extension_id,
        "alias": extension["alias"],
        "type": extension["type"],
        "resource": {"get": url, "modify": url},
        "incomingNumbers": list(extension["incomingNumbers"]),
        "directDialNumbers": list(extension["directDialNumbers"]),
        "dnd": extension["dnd"],
        "outgoingNumber": number_struct(extension["outgoingNumber"]),
        "devices": [],
    }
    if detail:
        view.update(extension["details"])
    return view


def _sms_view(request: Request, user: dict[str, Any], sms: dict[str, Any]) -> dict[str, Any]:
    url = f"{_user_url(request, user)}/events/sms/{sms['id']}/"
    return {
        "sent": sms["sent"],
        "text": sms["text"],
        "id": sms["id"],
        "comment": "",
        "created": sms["created"],
        "scheduled": sms["scheduled"],
        "direction": "out",
        "labels": "",
        "location": "sent",
        "get": url,
        "modify": url,
        "read": {"get": f"{url}read/", "modify": f"{url}read/", "value": True},
        "starred": {"get": f"{url}starred/", "modify": f"{url}starred/", "value": False},
        "status": sms["status"],
        "sources": [number_struct(sms["source"])] if sms["source"] else [],
        "targets": [number_struct(sms["target"])],
        "extension": {
            "id": "s0",
            "alias": "SMS",
            "get": f"{_user_url(request, user)}/settings/extensions/s0/",
        },
    }


def _non_negative(request: Request, name: str, default: int) -> int:
    raw = request.values.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit():
        raise SipgateError(400, f"{name} must be a whole number.", name)
    return int(raw)


def wants_json(request: Request) -> bool:
    """JSON only when the client's Accept header prefers it; XML is the default."""
    best = request.accept_mimetypes.best_match(
        ["application/xml", "application/json"], default="application/xml"
    )
    return best == "application/json"


def respond(root: str, body: Any, as_json: bool, status: int = 200) -> Response:
    if as_json:
        return Response(json.dumps(body), status=status, mimetype="application/json")
    return Response(to_xml(root, body), status=status, mimetype="application/xml")


def error_response(error: SipgateError, as_json: bool) -> Response:
    body = {"code": error.status, "message": error.message, "parameter": error.parameter}
    response = respond("error", body, as_json, status=error.status)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="sipgate REST API"'
    if error.status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response
