"""The sync engine end to end: real Celery worker processes, the real broker and
database, and the sandboxes over real HTTP."""

import random
import time
from collections import Counter

import pytest
from django.utils import timezone

from provisioning import services, sync
from provisioning.budget import budget_reset
from provisioning.models import (
    Customer,
    CustomerAccount,
    Number,
    OperationState,
    ProviderAccount,
    Source,
    SyncOperation,
    SyncState,
)
from tests.conftest import wait_until
from tests.factories import PartnerFactory, ProviderAccountFactory, SureVoIPAccountFactory
from tests.provisioning.conftest import create_source

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TERMINAL = (OperationState.SUCCEEDED, OperationState.FAILED, OperationState.SUPERSEDED)


def accounts_on(sandbox, partner, **fields):
    freespee = ProviderAccountFactory(partner=partner, base_url=f"{sandbox.url}/freespee", **fields)
    surevoip = SureVoIPAccountFactory(partner=partner, base_url=f"{sandbox.url}/surevoip", **fields)
    for account in (freespee, surevoip):
        budget_reset(provider_account=account)
    return freespee, surevoip


def all_operations_terminal() -> bool:
    return not SyncOperation.objects.exclude(state__in=TERMINAL).exists()


def customer_fields(n: int) -> dict:
    return {
        "name": f"Customer {n}",
        "custnr": f"E{n:04d}",
        "email": f"c{n}@example.com",
        "firstname": "Ann",
        "lastname": f"Example{n}",
        "phone": "+441224279484",
        "address": f"{n} High Street",
        "city": "Aberdeen",
        "postcode": "AB10 1AA",
        "country": "GBR",
    }


def test_customer_source_and_number_end_synced_with_tracking_number(sandbox, celery_workers):
    partner = PartnerFactory()
    freespee, surevoip = accounts_on(sandbox, partner)
    celery_workers.start()

    customer = services.customer_create(
        partner=partner,
        provider_accounts=[freespee, surevoip],
        requested_by=None,
        **customer_fields(1),
    )
    source = create_source(customer, freespee)
    number = services.number_create(
        customer=customer,
        provider_account=surevoip,
        requested_by=None,
        e164="+441224900999",
        destination="SIP/01224900999@192.0.2.10:5060",
    )

    wait_until(all_operations_terminal, timeout=60, message="every operation terminal")

    for account in customer.accounts.all():
        assert account.sync_state == SyncState.SYNCED, account.sync_error
        assert account.remote_id
    source.refresh_from_db()
    number.refresh_from_db()
    assert source.sync_state == SyncState.SYNCED, source.sync_error
    assert source.destnr.startswith("+")
    assert source.status == "active"
    assert number.sync_state == SyncState.SYNCED, number.sync_error


@pytest.mark.timeout(900)
def test_chaos_faults_and_killed_workers_lose_and_duplicate_nothing(sandbox, celery_workers):
    partner = PartnerFactory()
    freespee, surevoip = accounts_on(sandbox, partner)
    rng = random.Random(7)
    for provider in ("freespee", "surevoip"):
        sandbox.set_faults(
            provider,
            error_rate=0.08,
            error_status=503,
            timeout_rate=0.04,
            timeout_seconds=12,
            lost_response_rate=0.08,
        )
    celery_workers.start()

    customers = []
    for n in range(60):
        customers.append(
            services.customer_create(
                partner=partner,
                provider_accounts=[freespee, surevoip],
                requested_by=None,
                **customer_fields(n),
            )
        )
    for n, customer in enumerate(customers[:40]):
        services.source_create(
            customer=customer,
            provider_account=freespee,
            requested_by=None,
            name=f"Campaign {n}",
            media="Google.com",
            phonenr=f"+4689051{n:03d}",
        )
        services.number_create(
            customer=customer,
            provider_account=surevoip,
            requested_by=None,
            e164=f"+4412249{n:05d}",
            destination=f"SIP/{n}@192.0.2.10:5060",
        )
    for round_ in range(10):
        time.sleep(rng.uniform(1.0, 4.0))
        if round_ % 2 == 0:
            celery_workers.kill()
            # Every wake-up held by the killed worker is re-sent by the sweeper.
            celery_workers.start()
        for customer in rng.sample(customers, 3):
            customer.refresh_from_db()
            if customer.deleted_at is None:
                if rng.random() < 0.3:
                    services.customer_delete(customer=customer, requested_by=None)
                else:
                    services.customer_update(
                        customer=customer, requested_by=None, name=f"{customer.name} v2"[:60]
                    )
        sync.operations_sweep()
    sandbox.clear_faults()
    # Whatever failed under chaos is retried once the faults are gone.
    for operation in SyncOperation.objects.filter(state=OperationState.FAILED):
        services.operation_retry(operation=operation, requested_by=None)

    def settled() -> bool:
        sync.operations_sweep()
        return all_operations_terminal()

    wait_until(settled, timeout=420, interval=2, message="every operation terminal after chaos")

    failed = SyncOperation.objects.filter(state=OperationState.FAILED)
    assert not failed.exists(), [(str(o), o.error) for o in failed]
    # Every object is in its final desired state at the provider, and nothing is doubled.
    freespee_adapter = sync.adapter_for(ProviderAccount.objects.get(pk=freespee.pk))
    surevoip_adapter = sync.adapter_for(ProviderAccount.objects.get(pk=surevoip.pk))
    remote_customers = [c for c in freespee_adapter.customer_list() if c.status != "removed"]
    by_custnr = Counter(c.custnr for c in remote_customers)
    assert all(count == 1 for count in by_custnr.values()), by_custnr.most_common(3)
    live = Customer.objects.filter(partner=partner, deleted_at__isnull=True)
    assert set(by_custnr) == set(live.values_list("custnr", flat=True))
    remote_by_custnr = {c.custnr: c for c in remote_customers}
    for customer in live:
        assert remote_by_custnr[customer.custnr].name == customer.name
    remote_sources = [s for s in freespee_adapter.source_list() if s.status == "active"]
    names = Counter((s.customer_remote_id, s.name, s.media) for s in remote_sources)
    assert all(count == 1 for count in names.values())
    assert len(remote_sources) == Source.objects.filter(sync_state=SyncState.SYNCED).count()
    surevoip_accounts = list(surevoip_adapter.customer_list())
    assert (
        len(surevoip_accounts)
        == CustomerAccount.objects.filter(
            provider_account=surevoip, sync_state=SyncState.SYNCED
        ).count()
    )
    remote_numbers = Counter(
        number.e164
        for account in surevoip_accounts
        for number in surevoip_adapter.number_list(account.remote_id)
    )
    assert all(count == 1 for count in remote_numbers.values())
    assert set(remote_numbers) == set(
        Number.objects.filter(sync_state=SyncState.SYNCED).values_list("e164", flat=True)
    )


def test_budget_is_shared_across_worker_processes(sandbox, celery_workers):
    partner = PartnerFactory()
    budget = 10
    _, surevoip = accounts_on(sandbox, partner, request_budget=budget, request_budget_window=10)
    celery_workers.start(count=2)
    started = timezone.now()

    for n in range(20):
        services.customer_create(
            partner=partner, provider_accounts=[surevoip], requested_by=None, **customer_fields(n)
        )

    def done() -> bool:
        sync.operations_sweep()
        return all_operations_terminal()

    wait_until(done, timeout=120, interval=1, message="every create done")

    requests = sorted(
        r["time"] for r in sandbox.requests_log("surevoip") if r["time"] >= started.timestamp() - 1
    )
    assert len(requests) == 20
    assert all(r["status"] != 429 for r in sandbox.requests_log("surevoip"))
    # No window of the budget's length ever saw more than the write share of the budget.
    write_share = max(1, int(budget * 0.8))
    for index, first in enumerate(requests):
        in_window = [t for t in requests[index:] if t < first + 10]
        assert len(in_window) <= write_share
