"""The REST API under load, served by gunicorn on loopback with a real database.

Seeds a partner with N customers (each synced at one SureVoIP account) and an
API key, then measures requests per second and p50/p99 latency of the customers
list, a customer's detail, a customer create, and a bare DRF endpoint that
returns a constant (added by benchmarks/_api_load_wsgi.py, not by the product's
URLs). Each endpoint's rate is also given as a share of the constant's: what our
own layers cost over Django and DRF. The load comes from wrk when it is on PATH,
else from a Python client (processes of threads using requests); either runs on
the same machine as the server, so the figures are for this machine as a whole.

Usage: python benchmarks/api_load.py [customers] [seconds per endpoint] [connections]
"""

import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from _setup import ROOT, customer_contact, django_setup

CUSTOMERS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10
CONNECTIONS = int(sys.argv[3]) if len(sys.argv) > 3 else 16
WARM_UP_SECONDS = 2
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
CLIENT_PROCESSES = 2
# `{n}` becomes a number unique to each request: custnr is unique per partner.
CREATE_BODY = json.dumps(
    {
        "name": "Load {n}",
        "custnr": "L{n}",
        "email": "load@example.com",
        "phone": "+441224279484",
        "country": "GBR",
        "provider_accounts": ["{account}"],
    }
)


@dataclass(frozen=True)
class Endpoint:
    label: str
    method: str
    path: str
    body: str = ""
    authenticated: bool = True


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed() -> tuple[str, int, int]:
    """A partner with CUSTOMERS synced customers; returns its API key, one customer and its
    SureVoIP account."""
    from django.db import transaction
    from django.utils import timezone

    from integrations.sandbox import DEMO_ACCOUNTS, DEMO_SUREVOIP_PARTNER
    from provisioning import services
    from provisioning.models import (
        Customer,
        CustomerAccount,
        Partner,
        ProviderAccount,
        SyncState,
    )

    partner = Partner.objects.create(name="Bench API", slug="bench-api")
    # No worker runs: the account is never called, it only gives creates somewhere to go.
    account = services.provider_account_save(
        provider_account=ProviderAccount(partner=partner),
        secret=DEMO_ACCOUNTS["surevoip"][1],
        kind="surevoip",
        name="SureVoIP bench",
        base_url="http://127.0.0.1:8100/surevoip",
        username=DEMO_ACCOUNTS["surevoip"][0],
        surevoip_partner_name=DEMO_SUREVOIP_PARTNER,
    )
    customers = []
    for n in range(CUSTOMERS):
        customer = Customer(
            partner=partner,
            name=f"Customer {n:05d}",
            custnr=f"C{n:06d}",
            **customer_contact(n),
        )
        # The model's own checks, as the services run them, without a query per row:
        # the custnrs are unique by construction.
        customer.full_clean(validate_unique=False, validate_constraints=False)
        customers.append(customer)
    now = timezone.now()
    with transaction.atomic():
        customers = Customer.objects.bulk_create(customers, batch_size=500)
        CustomerAccount.objects.bulk_create(
            [
                CustomerAccount(
                    customer=customer,
                    provider_account=account,
                    sync_state=SyncState.SYNCED,
                    remote_id=customer.custnr,
                    last_synced_at=now,
                )
                for customer in customers
            ],
            batch_size=500,
        )
    _, key = services.api_key_create(partner=partner, name="bench")
    return key, customers[len(customers) // 2].pk, account.pk


def start_gunicorn(port: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        # Far above what the run can send: the throttle still counts, but never refuses.
        "API_RATE": "100000000/min",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks._api_load_wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
            "--threads",
            str(GUNICORN_THREADS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=environment,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/bench/constant", timeout=5).ok:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 30 s")


# -- wrk ---------------------------------------------------------------------

WRK_SCRIPT = """
local counter = 0
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_number", next_thread)
end
%(request)s
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    errors.status + errors.connect + errors.read + errors.write + errors.timeout))
end
"""

# Each request's body gets a number unique to the run, the wrk thread and the request.
WRK_REQUEST = """
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "application/json"
local body = [[%(body)s]]
function request()
  counter = counter + 1
  local n = "%(tag)s-" .. thread_number .. "-" .. counter
  return wrk.format(nil, nil, nil, (string.gsub(body, "{n}", n)))
end
"""


def run_wrk(base: str, endpoint: Endpoint, key: str, seconds: float, tag: str) -> Result:
    request = ""
    if endpoint.body:
        request = WRK_REQUEST % {"method": endpoint.method, "body": endpoint.body, "tag": tag}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"request": request})
    command = ["wrk", "--threads", "2", "--connections", str(CONNECTIONS)]
    command += ["--duration", f"{max(1, round(seconds))}s", "--timeout", "10s"]
    command += ["--script", script.name]
    if endpoint.authenticated:
        command += ["--header", f"Authorization: Bearer {key}"]
    try:
        output = subprocess.run(
            [*command, base + endpoint.path], capture_output=True, text=True, check=True
        ).stdout
    finally:
        Path(script.name).unlink()
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    count, duration_us, p50_us, p99_us, errors = (int(value) for value in line.split()[1:])
    return Result(count, errors, count / (duration_us / 1e6), p50_us / 1000, p99_us / 1000)


# -- Python client ------------------------------------------------------------


def _client_process(
    url: str,
    method: str,
    headers: dict[str, str],
    body: str,
    seconds: float,
    threads: int,
    tag: str,
) -> tuple[list[float], int]:
    """One client process: `threads` connections, each sending one request after another."""
    deadline = time.monotonic() + seconds

    def connection(number: int) -> tuple[list[float], int]:
        session = requests.Session()
        latencies: list[float] = []
        errors = 0
        while time.monotonic() < deadline:
            n = f"{tag}-{os.getpid()}-{number}-{len(latencies)}"
            data = body.replace("{n}", n) if body else None
            started = time.perf_counter()
            try:
                response = session.request(method, url, headers=headers, data=data, timeout=10)
                errors += response.status_code >= 400
            except requests.RequestException:
                errors += 1
            latencies.append(time.perf_counter() - started)
        return latencies, errors

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(connection, range(threads)))
    return [latency for latencies, _ in results for latency in latencies], sum(
        errors for _, errors in results
    )


def run_python(base: str, endpoint: Endpoint, key: str, seconds: float, tag: str) -> Result:
    headers = {"Content-Type": "application/json"}
    if endpoint.authenticated:
        headers["Authorization"] = f"Bearer {key}"
    threads = max(1, CONNECTIONS // CLIENT_PROCESSES)
    # Processes, not only threads: one interpreter's lock would cap the load it can send.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(CLIENT_PROCESSES, mp_context=context) as pool:
        started = time.monotonic()
        futures = [
            pool.submit(
                _client_process,
                base + endpoint.path,
                endpoint.method,
                headers,
                endpoint.body,
                seconds,
                threads,
                f"{tag}{process}",
            )
            for process in range(CLIENT_PROCESSES)
        ]
        results = [future.result() for future in futures]
        elapsed = time.monotonic() - started
    latencies = sorted(latency for latencies, _ in results for latency in latencies)
    errors = sum(errors for _, errors in results)

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

    return Result(
        len(latencies), errors, len(latencies) / elapsed, percentile(0.5), percentile(0.99)
    )


def main() -> None:
    django_setup("api")
    from django.conf import settings
    from django.db import connections

    key, customer_id, account_id = seed()
    connections.close_all()
    endpoints = [
        Endpoint("constant (bare DRF)", "GET", "/bench/constant", authenticated=False),
        Endpoint("customers list", "GET", "/api/v1/customers/"),
        Endpoint("customer detail", "GET", f"/api/v1/customers/{customer_id}/"),
        Endpoint(
            "customer create",
            "POST",
            "/api/v1/customers/",
            body=CREATE_BODY.replace('"{account}"', str(account_id)),
        ),
    ]
    client, run = ("wrk", run_wrk) if shutil.which("wrk") else ("Python client", run_python)
    # Stopped from outside, still stop gunicorn: SIGTERM then unwinds through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    port = free_port()
    server = start_gunicorn(port)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Result] = {}
    try:
        for index, endpoint in enumerate(endpoints):
            run(base, endpoint, key, WARM_UP_SECONDS, f"w{index}")
            results[endpoint.label] = run(base, endpoint, key, SECONDS, f"m{index}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; "
        f"{CUSTOMERS} customers; gunicorn {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} "
        f"threads; {client}, {CONNECTIONS} connections, {SECONDS:g} s per endpoint"
    )
    constant = results[endpoints[0].label].rps
    print(f"{'endpoint':<22}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs constant':>13}{'errors':>8}")
    for label, result in results.items():
        print(
            f"{label:<22}{result.rps:>9.1f}{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}"
            f"{result.rps / constant:>13.2f}{result.errors:>8}"
        )


if __name__ == "__main__":
    main()
