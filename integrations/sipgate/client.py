"""The sipgate REST API as sipgate documents it (sipgate-rest-api.txt), in its own terms.

Every resource lives under `/{userId}/…` ("my is an alias for logged in user,
so preferably take this") and requires the `version` parameter; both are added
in one place, `SipgateClient.path` and `SipgateClient.call`. Authentication is
HTTP Basic with the account's login. Answers are XML unless JSON is asked for,
so the session sends `Accept: application/json`; error bodies are read in
either format, since some (a proxy's, an injected fault's) come back as XML.
"""

import copy
import dataclasses
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import requests
from requests.auth import HTTPBasicAuth

from integrations.contract import AccountConfig, Exchange, Recorder
from integrations.errors import OutcomeUnknownError, TransientError
from integrations.http import REDACTED, Gate, HttpClient, default_error_message

# The handler version the portal is written against, when the account names none.
DEFAULT_VERSION = "2.41.0"
# "Specifies the complexity of the result": `full` returns every field, including
# the ones the doc tags SIMPLE, for each item of a list too.
COMPLEXITY = "full"
# Fields of an extension that are secrets of the customer's phones (doc: "SIP
# password to be used for registration", the voicemail "PIN"); never recorded.
EXTENSION_SECRET_FIELDS = ("sipPassword", "pin")


class SipgateClient:
    """One sipgate account (one web user) over HTTP Basic, JSON, `version` on every call."""

    def __init__(
        self,
        config: AccountConfig,
        recorder: Recorder | None = None,
        *,
        gate: Gate | None = None,
    ) -> None:
        self.config = config
        self.user_id = config.user_id or "my"
        self.version = config.api_version or DEFAULT_VERSION
        self.http = HttpClient(
            config,
            base_url=config.base_url,
            auth=HTTPBasicAuth(config.username, config.secret),
            recorder=_secret_fields_redacted(recorder) if recorder else None,
            gate=gate,
            headers={"Accept": "application/json"},
        )

    def as_user(self, user_id: str) -> "SipgateClient":
        """The same account and connection pool, addressing `/{user_id}/…` instead."""
        other = copy.copy(self)
        other.user_id = user_id or "my"
        return other

    # The one place paths, `my` and `version` are decided --------------------------

    def path(self, resource: str) -> str:
        """`/{userId}/{resource}/`, with the doc's trailing slash."""
        return f"/{quote(self.user_id, safe='')}/{resource.strip('/')}/"

    def call(
        self,
        method: str,
        resource: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request with `version` (and `complexity` on reads); return the JSON body."""
        query: dict[str, Any] = {"version": self.version}
        if method == "GET":
            query["complexity"] = COMPLEXITY
        query.update(params or {})
        response = self.http.request(
            method, self.path(resource), params=query, data=data, idempotent=idempotent
        )
        self.http.raise_for_status(response, error_message)
        try:
            return response.json()
        except ValueError:
            message = f"sipgate answered {resource} with a body that is not JSON."
            if method == "GET" or idempotent:
                raise TransientError(message, status=response.status_code) from None
            raise OutcomeUnknownError(message, status=response.status_code) from None

    # Resources, in sipgate's terms ----------------------------------------------

    def numbers(self) -> dict[str, Any]:
        """GET settings/numbers/: allowAdd, allowEmptyOadc and the user's phonenumbers."""
        return self.call("GET", "settings/numbers")

    def numbers_list(self) -> list[dict[str, Any]]:
        """GET settings/numbers/list/: every number of the account, routed or not."""
        return self.call("GET", "settings/numbers/list")["numbers"]

    def extensions(self) -> list[dict[str, Any]]:
        """GET settings/extensions/: sms, fax, voicemail, register and external extensions."""
        return self.call("GET", "settings/extensions")["extensions"]

    def extension(self, extension_id: str) -> dict[str, Any]:
        """GET settings/extensions/{extensionId}/."""
        return self.call("GET", f"settings/extensions/{quote(extension_id, safe='')}")

    def outgoing_numbers(self) -> list[dict[str, Any]]:
        """GET settings/numbers/outgoing/: the outgoing number of each extension."""
        return self.call("GET", "settings/numbers/outgoing")["outgoingNumbers"]

    def outgoing_number_set(self, extension_id: str, number: str) -> list[dict[str, Any]]:
        """POST settings/numbers/outgoing/: `number` ('+49…', or '' for none) for an extension."""
        # Setting a value is idempotent: a lost answer can simply be sent again.
        return self.call(
            "POST",
            "settings/numbers/outgoing",
            data={"extensionId": extension_id, "value": number},
            idempotent=True,
        )["outgoingNumbers"]

    def dnd(self, extension_id: str) -> bool:
        """GET settings/extensions/{extensionId}/dnd/: true when the extension is on DND."""
        return self.call("GET", f"settings/extensions/{quote(extension_id, safe='')}/dnd")["value"]

    def dnd_set(self, extension_id: str, enabled: bool) -> bool:
        """POST settings/extensions/{extensionId}/dnd/ with value=true|false."""
        return self.call(
            "POST",
            f"settings/extensions/{quote(extension_id, safe='')}/dnd",
            data={"value": "true" if enabled else "false"},
            idempotent=True,
        )["value"]

    def base_product_type(self) -> str:
        """GET settings/baseproducttype/."""
        return self.call("GET", "settings/baseproducttype")["value"]

    def balance(self) -> dict[str, Any]:
        """GET billing/balance/: currency, totalIncludingVat, vatPercent and vouchers."""
        return self.call("GET", "billing/balance")

    def sms_send(
        self,
        target: str | Sequence[str],
        content: str,
        *,
        source: str = "",
        schedule: str = "",
    ) -> list[dict[str, Any]]:
        """POST events/sms/: one SMS event per 160-character part and target."""
        targets = [target] if isinstance(target, str) else list(target)
        data: dict[str, Any] = {"target": targets, "content": content}
        if source:
            data["source"] = source
        if schedule:
            data["schedule"] = schedule
        # Not idempotent: repeating a send whose answer was lost sends the SMS twice.
        return self.call("POST", "events/sms", data=data, idempotent=False)["events"]

    def sms_list(self, *, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """GET events/sms/: events, overallCount and count (limit/offset page it)."""
        params: dict[str, Any] = {"offset": offset}
        if limit is not None:
            params["limit"] = limit
        return self.call("GET", "events/sms", params=params)

    def sms(self, sms_id: str) -> dict[str, Any]:
        """GET events/sms/{smsId}/."""
        return self.call("GET", f"events/sms/{quote(sms_id, safe='')}")

    def user_id_resolve(self) -> str:
        """The web user's own id behind `my`, read from an extension's resource link."""
        base_path = urlsplit(self.http.base_url).path.rstrip("/")
        for extension in self.extensions():
            link = urlsplit(extension.get("resource", {}).get("get", "")).path
            user_id = link.removeprefix(base_path).strip("/").split("/", 1)[0]
            if user_id:
                return user_id
        return self.user_id


def error_message(response: requests.Response) -> tuple[str, dict[str, list[str]]]:
    """sipgate's error body, JSON or XML: code, message and the offending parameter."""
    content_type = response.headers.get("Content-Type", "")
    fields: dict[str, Any] = {}
    try:
        if "json" in content_type:
            body = response.json()
            fields = body if isinstance(body, dict) else {}
        elif "xml" in content_type:
            # Error bodies are small and come from the configured provider; the
            # expat bundled with Python 3.11 refuses entity-expansion attacks.
            root = ElementTree.fromstring(response.content)  # noqa: S314 - see above
            fields = {child.tag: (child.text or "") for child in root}
    except (ValueError, ElementTree.ParseError):
        fields = {}
    message = str(fields.get("message") or "")
    if not message:
        return default_error_message(response)
    parameter = str(fields.get("parameter") or "")
    return message, ({parameter: [message]} if parameter else {})


def _secret_fields_redacted(recorder: Recorder) -> Recorder:
    """A recorder that also blanks extension secrets (SIP passwords, PINs) in bodies."""
    names = "|".join(EXTENSION_SECRET_FIELDS)
    json_pattern = re.compile(rf'("(?:{names})"\s*:\s*)"[^"]*"')
    xml_pattern = re.compile(rf"(<({names})>)[^<]*(</\2>)")

    def blank(text: str) -> str:
        text = json_pattern.sub(rf'\1"{REDACTED}"', text)
        return xml_pattern.sub(rf"\1{REDACTED}\3", text)

    def record(exchange: Exchange) -> None:
        recorder(
            dataclasses.replace(
                exchange,
                request_body=blank(exchange.request_body),
                response_body=blank(exchange.response_body),
            )
        )

    return record
