"""What the three provider sandboxes share: fault injection, the request log,
the control API and a threaded HTTP server.

Each provider's simulator (`integrations/<provider>/sandbox.py`) is a
`ProviderSandbox`: a plain WSGI app holding its state under one lock.
`SandboxApp` mounts them under `/<provider>/`, injects faults in front of them
and serves the control API under `/_sandbox/`, which belongs to no provider:

    GET    /_sandbox/state              everything each sandbox holds
    POST   /_sandbox/reset              empty state, faults and request log
    POST   /_sandbox/faults             {"provider": ..., "latency_ms": ..., ...}
    DELETE /_sandbox/faults[?provider=] clear faults
    GET    /_sandbox/requests[?provider=]
"""

import io
import json
import logging
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

logger = logging.getLogger(__name__)

REQUEST_LOG_SIZE = 200_000


@dataclass
class Faults:
    """Per-request fault probabilities for one provider."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    timeout_rate: float = 0.0
    reset_rate: float = 0.0
    lost_response_rate: float = 0.0
    # How long a timeout fault holds the request: longer than any client waits.
    timeout_seconds: float = 30.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Faults":
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(known) - {"provider"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        values = {}
        for name, value in data.items():
            if name == "provider":
                continue
            caster = int if name in ("latency_ms", "error_status") else float
            values[name] = caster(value)
        return cls(**values)


class ConnectionDropped(ConnectionError):
    """Raised inside a request after its socket was closed on purpose."""


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, mimetype="application/json")


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection with a reset and no answer."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionDropped("connection dropped by the sandbox")


class ProviderSandbox:
    """Base of a provider simulator: a WSGI app whose state lives under `self.lock`.

    Subclasses set `name`, implement `dispatch`, `reset`, `state` and `restore`,
    and may override `fault_response` to shape an injected error like the provider's.
    """

    name = ""

    def __init__(self, accounts: dict[str, str] | None = None) -> None:
        # username -> password accepted by this sandbox
        self.accounts = dict(accounts or {})
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """Everything the sandbox holds, JSON-serialisable, as `restore` takes it."""
        raise NotImplementedError

    def restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def dispatch(self, request: Request) -> Response:
        """Answer one request; `request.path` is relative to the sandbox's mount point."""
        raise NotImplementedError

    def fault_response(self, status: int) -> Response:
        return json_response({"error": f"Injected fault: HTTP {status}"}, status=status)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.dispatch(Request(environ))(environ, start_response)


class SandboxApp:
    """The provider sandboxes mounted side by side, with faults and a request log."""

    def __init__(
        self,
        sandboxes: Iterable[ProviderSandbox],
        *,
        faults: Faults | None = None,
        state_file: Path | None = None,
        seed: int | None = None,
    ) -> None:
        self.sandboxes = {sandbox.name: sandbox for sandbox in sandboxes}
        self.default_faults = faults or Faults()
        self.faults = {name: Faults(**asdict(self.default_faults)) for name in self.sandboxes}
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.log_lock = threading.Lock()
        self.random = random.Random(seed)
        self.state_file = state_file
        if state_file and state_file.exists():
            saved = json.loads(state_file.read_text())
            for name, state in saved.items():
                if name in self.sandboxes:
                    self.sandboxes[name].restore(state)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        if path.startswith("/_sandbox/"):
            return self.control(request)(environ, start_response)
        name = path.strip("/").split("/", 1)[0]
        sandbox = self.sandboxes.get(name)
        if sandbox is None:
            return json_response({"error": "Not found"}, status=404)(environ, start_response)
        # Shift the mount point into SCRIPT_NAME so the sandbox sees its own paths.
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/{name}"
        environ["PATH_INFO"] = path[len(name) + 1 :] or "/"
        return self.provider_call(sandbox, environ, start_response)

    def provider_call(
        self, sandbox: ProviderSandbox, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        faults = self.faults[sandbox.name]
        started = time.monotonic()
        # Read the whole body first: one a sandbox answers without reading (a 401
        # challenge, an injected error) would otherwise stay on the kept-alive
        # connection and be parsed as the next request.
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        entry = {
            "provider": sandbox.name,
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "query": environ.get("QUERY_STRING", ""),
            "time": time.time(),
            "status": None,
            "fault": "",
        }
        try:
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            roll = self.random.random
            if faults.timeout_rate and roll() < faults.timeout_rate:
                entry["fault"] = "timeout"
                time.sleep(faults.timeout_seconds)
                drop_connection(environ)
            if faults.reset_rate and roll() < faults.reset_rate:
                entry["fault"] = "reset"
                drop_connection(environ)
            if faults.error_rate and roll() < faults.error_rate:
                entry["fault"] = "error"
                response = sandbox.fault_response(faults.error_status)
            else:
                lost = faults.lost_response_rate and roll() < faults.lost_response_rate
                response = sandbox.dispatch(Request(environ))
                if lost:
                    entry["fault"] = "lost_response"
                    entry["status"] = response.status_code
                    drop_connection(environ)
            entry["status"] = response.status_code
            return response(environ, start_response)
        finally:
            entry["duration_ms"] = round((time.monotonic() - started) * 1000)
            with self.log_lock:
                self.requests.append(entry)

    def control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_sandbox/").strip("/")
        provider = request.args.get("provider")
        if provider and provider not in self.sandboxes:
            return json_response({"error": f"unknown provider {provider!r}"}, status=400)
        if action == "state" and request.method == "GET":
            return json_response(
                {name: sandbox.state() for name, sandbox in self.sandboxes.items()}
            )
        if action == "reset" and request.method == "POST":
            self.reset()
            return json_response({"reset": True})
        if action == "requests" and request.method == "GET":
            with self.log_lock:
                entries = [e for e in self.requests if not provider or e["provider"] == provider]
            return json_response({"requests": entries, "count": len(entries)})
        if action == "faults":
            return self.control_faults(request, provider)
        if action == "save" and request.method == "POST":
            self.save()
            return json_response({"saved": bool(self.state_file)})
        return json_response({"error": "Not found"}, status=404)

    def control_faults(self, request: Request, provider: str | None) -> Response:
        if request.method == "GET":
            return json_response({name: asdict(f) for name, f in self.faults.items()})
        if request.method == "DELETE":
            for name in [provider] if provider else list(self.faults):
                self.faults[name] = Faults()
            return json_response({name: asdict(f) for name, f in self.faults.items()})
        if request.method == "POST":
            try:
                data = json.loads(request.get_data(as_text=True) or "{}")
                name = data.get("provider")
                if name not in self.sandboxes:
                    raise ValueError(f"provider must be one of {', '.join(self.sandboxes)}")
                self.faults[name] = Faults.from_json(data)
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, status=400)
            return json_response({name: asdict(f) for name, f in self.faults.items()})
        return json_response({"error": "Method not allowed"}, status=405)

    def reset(self) -> None:
        for sandbox in self.sandboxes.values():
            with sandbox.lock:
                sandbox.reset()
        self.faults = {name: Faults() for name in self.sandboxes}
        with self.log_lock:
            self.requests.clear()

    def save(self) -> None:
        """Write every sandbox's state to the state file, if one is set."""
        if self.state_file is None:
            return
        state = {}
        for name, sandbox in self.sandboxes.items():
            with sandbox.lock:
                state[name] = sandbox.state()
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)


def serve(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """Serve a WSGI app on a threaded server in a background thread; port 0 picks a free one.

    The caller stops it with `server.shutdown()`; `server.port` is the bound port.
    """
    # werkzeug logs a line per request; keep them out of the test and demo output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="sandbox", daemon=True)
    thread.start()
    return server


# The accounts the sandboxes accept when none are given: the ones `seed_demo` creates.
DEMO_ACCOUNTS = {
    "freespee": ("demo-freespee", "demo-freespee-secret"),
    "surevoip": ("demo-surevoip", "demo-surevoip-secret"),
    "sipgate": ("demo-sipgate", "demo-sipgate-secret"),
}
DEMO_FREESPEE_VERSION = "2.4.9"
DEMO_SUREVOIP_PARTNER = "demo-partner"
DEMO_SIPGATE_VERSION = "2.41.0"


def build_app(
    accounts: dict[str, dict[str, str]] | None = None,
    *,
    faults: Faults | None = None,
    state_file: Path | None = None,
) -> SandboxApp:
    """The three provider sandboxes on one app; `accounts` maps provider -> {user: password}."""
    from integrations.freespee.sandbox import FreespeeSandbox
    from integrations.sipgate.sandbox import SipgateSandbox
    from integrations.surevoip.sandbox import SureVoIPSandbox

    if accounts is None:
        accounts = {
            provider: {user: password} for provider, (user, password) in DEMO_ACCOUNTS.items()
        }
    return SandboxApp(
        [
            FreespeeSandbox(accounts.get("freespee", {})),
            SureVoIPSandbox(accounts.get("surevoip", {})),
            SipgateSandbox(accounts.get("sipgate", {})),
        ],
        faults=faults,
        state_file=state_file,
    )
