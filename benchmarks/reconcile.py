"""Reconciling one Freespee account of N remote objects (default 100 000).

Prints the provider requests, SQL queries and seconds one reconciliation costs.
Usage: python benchmarks/reconcile.py [N]
"""

import sys
import time

from _setup import django_setup

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


def main() -> None:
    django_setup("reconcile")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from integrations.sandbox import DEMO_ACCOUNTS, DEMO_FREESPEE_VERSION, build_app, serve
    from provisioning import reconciliation, services
    from provisioning.budget import budget_reset
    from provisioning.models import (
        Customer,
        CustomerAccount,
        Partner,
        ProviderAccount,
        ReconciliationRun,
        SyncState,
    )

    sandbox = build_app()
    server = serve(sandbox)
    freespee = sandbox.sandboxes["freespee"]
    remote_ids = freespee.seed_customers(N)
    partner = Partner.objects.create(name="Bench", slug="bench")
    account = services.provider_account_save(
        provider_account=ProviderAccount(partner=partner),
        secret=DEMO_ACCOUNTS["freespee"][1],
        kind="freespee",
        name="Freespee bench",
        base_url=f"http://127.0.0.1:{server.port}/freespee",
        api_version=DEMO_FREESPEE_VERSION,
        username=DEMO_ACCOUNTS["freespee"][0],
        request_budget=1_000_000,
    )
    budget_reset(provider_account=account)
    remote = {c.remote_id: c for c in freespee_records(account)}
    customers = Customer.objects.bulk_create(
        Customer(partner=partner, name=remote[r].name, custnr=remote[r].custnr) for r in remote_ids
    )
    CustomerAccount.objects.bulk_create(
        CustomerAccount(
            customer=customer,
            provider_account=account,
            remote_id=remote_id,
            sync_state=SyncState.SYNCED,
        )
        for customer, remote_id in zip(customers, remote_ids, strict=True)
    )
    sandbox.requests.clear()
    run = ReconciliationRun.objects.create(provider_account=account)
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        run = reconciliation.reconciliation_run(run_id=run.pk)
    elapsed = time.monotonic() - started
    server.shutdown()
    print(f"remote objects: {N}")
    print(f"requests: {run.requests} (list pages: {run.pages})")
    print(f"SQL queries: {len(queries)}")
    print(f"seconds: {elapsed:.2f}")
    print(
        f"in sync: {run.in_sync}, drifted: {run.drifted}, missing: {run.missing}, "
        f"unmanaged: {run.unmanaged}"
    )


def freespee_records(account):
    from provisioning.sync import adapter_for

    return list(adapter_for(account).customer_list())


if __name__ == "__main__":
    main()
