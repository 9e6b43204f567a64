"""Reconciliation against the sandboxes over real HTTP, run in-process."""

import math
from dataclasses import replace

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning import reconciliation, services, sync
from provisioning.models import (
    Customer,
    CustomerAccount,
    ReconciliationRun,
    RunState,
    Source,
    SyncState,
)
from tests.provisioning.conftest import create_customer, create_source, run_open_operations

pytestmark = pytest.mark.django_db


def reconcile(account, dry_run: bool = False) -> ReconciliationRun:
    run = services.reconciliation_request(
        provider_account=account, dry_run=dry_run, requested_by=None
    )
    return reconciliation.reconciliation_run(run_id=run.pk)


def freespee_state(sandbox):
    return sandbox.app.sandboxes["freespee"]


def test_changed_removed_and_added_remote_objects_are_reported(freespee, partner, sandbox):
    changed = create_customer(partner, freespee, custnr="1", name="Changed")
    removed = create_customer(partner, freespee, custnr="2", name="Removed")
    create_customer(partner, freespee, custnr="3", name="Untouched")
    run_open_operations()
    adapter = sync.adapter_for(freespee)
    changed_id = changed.accounts.get().remote_id
    record = adapter.customer_get(changed_id)

    adapter.customer_update(replace(record, name="Renamed at Freespee"))
    adapter.customer_delete(removed.accounts.get().remote_id)
    freespee_state(sandbox).seed_customers(2, prefix="outside-")

    run = reconcile(freespee)

    assert run.state == RunState.SUCCEEDED
    assert (run.in_sync, run.drifted, run.missing, run.unmanaged) == (1, 1, 1, 2)
    drifted = changed.accounts.get()
    assert drifted.sync_state == SyncState.DRIFTED
    assert drifted.drift == {"name": {"portal": "Changed", "provider": "Renamed at Freespee"}}
    assert removed.accounts.get().drift == {"exists": {"portal": True, "provider": False}}
    assert {item["record"]["custnr"] for item in run.unmanaged_items} == {
        "outside-0",
        "outside-1",
    }


def test_pushing_over_drift_restores_the_portals_values(freespee, partner, sandbox):
    customer = create_customer(partner, freespee, custnr="1", name="Portal name")
    run_open_operations()
    adapter = sync.adapter_for(freespee)
    remote_id = customer.accounts.get().remote_id

    adapter.customer_update(replace(adapter.customer_get(remote_id), name="Changed there"))
    reconcile(freespee)

    services.drift_push(obj=customer.accounts.get(), requested_by=None)
    run_open_operations()

    assert adapter.customer_get(remote_id).name == "Portal name"
    assert customer.accounts.get().sync_state == SyncState.SYNCED


def test_adopting_an_unmanaged_customer_binds_it(freespee, partner, sandbox):
    remote_id = freespee_state(sandbox).seed_customers(1, prefix="outside-")[0]
    run = reconcile(freespee)

    adopted = services.reconciliation_adopt(run=run, remote_ids=[remote_id], requested_by=None)

    assert adopted == 1
    account = CustomerAccount.objects.get(remote_id=remote_id)
    assert account.customer.custnr == "outside-0"
    assert account.sync_state == SyncState.SYNCED
    again = reconcile(freespee)
    assert (again.unmanaged, again.in_sync) == (0, 1)


def test_source_status_and_tracking_number_are_written_back(freespee, partner, sandbox):
    customer = create_customer(partner, freespee, custnr="1")
    source = create_source(customer, freespee)
    run_open_operations()
    source.refresh_from_db()
    freespee_state(sandbox).set_source_status(int(source.remote_id), "quarantined")
    Source.objects.filter(pk=source.pk).update(destnr="", status="")

    reconcile(freespee)

    source.refresh_from_db()
    assert source.status == "quarantined"
    assert source.destnr.startswith("+")


def test_a_listing_that_fails_marks_nothing_missing(freespee, partner, sandbox):
    create_customer(partner, freespee, custnr="1")
    run_open_operations()
    sandbox.set_faults("freespee", error_rate=1.0, error_status=503)

    run = reconcile(freespee)

    assert run.state == RunState.FAILED
    assert run.missing == 0
    assert CustomerAccount.objects.get().sync_state == SyncState.SYNCED


def test_a_dry_run_writes_nothing(freespee, partner, sandbox):
    customer = create_customer(partner, freespee, custnr="1")
    run_open_operations()
    sync.adapter_for(freespee).customer_delete(customer.accounts.get().remote_id)
    services.customer_update(customer=customer, requested_by=None, name="Pending change")

    plan = reconcile(freespee, dry_run=True)

    assert plan.dry_run and plan.state == RunState.SUCCEEDED
    assert plan.pending_push == {"create": 0, "update": 1, "delete": 0}
    assert customer.accounts.get().sync_state == SyncState.PENDING
    methods = {r["method"] for r in sandbox.requests_log("freespee")[-2:]}
    assert methods == {"GET"}


@pytest.mark.parametrize("count", [1_000, 10_000])
def test_reconciling_costs_pages_not_objects(freespee, partner, sandbox, count):
    remote_ids = freespee_state(sandbox).seed_customers(count)
    customers = Customer.objects.bulk_create(
        Customer(partner=partner, name=f"Customer {n}", custnr=f"seed-{n}") for n in range(count)
    )
    CustomerAccount.objects.bulk_create(
        CustomerAccount(
            customer=customer,
            provider_account=freespee,
            remote_id=remote_id,
            sync_state=SyncState.SYNCED,
        )
        for customer, remote_id in zip(customers, remote_ids, strict=True)
    )
    run = services.reconciliation_request(provider_account=freespee, requested_by=None)

    with CaptureQueriesContext(connection) as queries:
        run = reconciliation.reconciliation_run(run_id=run.pk)

    pages = math.ceil(count / 1000)
    customer_lists = [
        r
        for r in sandbox.requests_log("freespee")
        if r["path"].endswith("/customers") and r["status"] == 200
    ]
    assert run.in_sync == count
    assert len(customer_lists) == pages
    # Queries: a handful per run, plus (without Redis) the shared budget's few per
    # request; never one per object.
    per_request = 0 if settings.REDIS_URL else 6
    assert run.requests == pages + 1  # the customer pages, then the (empty) source list
    assert len(queries) <= 12 + per_request * run.requests
