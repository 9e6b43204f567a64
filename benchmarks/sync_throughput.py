"""Creates pushed through real Celery workers against a sandbox with a set latency.

Prints operations per second, the theoretical limit
min(worker concurrency / latency, budget), their ratio, and provider requests
per operation. Usage: python benchmarks/sync_throughput.py [N] [latency_ms] [concurrency]
"""

import os
import subprocess
import sys
import time

from _setup import ROOT, customer_contact, django_setup

N = int(sys.argv[1]) if len(sys.argv) > 1 else 400
LATENCY_MS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
CONCURRENCY = int(sys.argv[3]) if len(sys.argv) > 3 else 8
BUDGET_PER_HOUR = 1_000_000


def main() -> None:
    django_setup("sync")
    from django.db import transaction

    from integrations.sandbox import DEMO_ACCOUNTS, DEMO_SUREVOIP_PARTNER, Faults, build_app, serve
    from portal.celery import app
    from provisioning import services
    from provisioning.budget import budget_reset
    from provisioning.models import OperationState, Partner, ProviderAccount, SyncOperation

    sandbox = build_app(faults=Faults(latency_ms=LATENCY_MS))
    server = serve(sandbox)
    partner = Partner.objects.create(name="Bench", slug="bench")
    account = services.provider_account_save(
        provider_account=ProviderAccount(partner=partner),
        secret=DEMO_ACCOUNTS["surevoip"][1],
        kind="surevoip",
        name="SureVoIP bench",
        base_url=f"http://127.0.0.1:{server.port}/surevoip",
        username=DEMO_ACCOUNTS["surevoip"][0],
        surevoip_partner_name=DEMO_SUREVOIP_PARTNER,
        request_budget=BUDGET_PER_HOUR,
    )
    budget_reset(provider_account=account)
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("provider")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "portal",
            "worker",
            "--queues",
            "provider",
            "--concurrency",
            str(CONCURRENCY),
            "--pool",
            os.environ.get("BENCH_POOL", "prefork"),
            "--loglevel",
            os.environ.get("BENCH_LOGLEVEL", "WARNING"),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    try:
        time.sleep(3)  # let the worker connect before the clock starts
        # All creates are written in one transaction; the workers are woken when it
        # commits, so the clock measures the pushes, not how fast we can type them in.
        with transaction.atomic():
            for n in range(N):
                services.customer_create(
                    partner=partner,
                    provider_accounts=[account],
                    requested_by=None,
                    name=f"Bench {n}",
                    custnr=f"B{n:06d}",
                    **customer_contact(n),
                )
            started = time.monotonic()
        open_states = [OperationState.PENDING, OperationState.RUNNING]
        while SyncOperation.objects.filter(state__in=open_states).exists():
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.shutdown()
    succeeded = SyncOperation.objects.filter(state=OperationState.SUCCEEDED).count()
    requests = len(sandbox.requests)
    rate = succeeded / elapsed
    limit = min(CONCURRENCY / (LATENCY_MS / 1000), BUDGET_PER_HOUR / 3600)
    print(f"creates: {succeeded}/{N} succeeded in {elapsed:.2f} s")
    print(f"operations per second: {rate:.1f}")
    print(
        f"theoretical limit min(concurrency / latency, budget): {limit:.1f} /s "
        f"(concurrency {CONCURRENCY}, latency {LATENCY_MS} ms)"
    )
    print(f"ratio: {rate / limit:.2f}")
    print(f"provider requests per operation: {requests / max(1, succeeded):.2f}")


if __name__ == "__main__":
    main()
