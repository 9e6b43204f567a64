"""The sync engine run in-process against the sandboxes over real HTTP.

Operations are run by calling the engine directly, so each step can be
inspected; tests/provisioning/test_sync_e2e.py runs the same through real workers.
"""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.sandbox import DEMO_ACCOUNTS
from provisioning import services, sync
from provisioning.models import (
    HttpExchange,
    OperationState,
    ProviderAccount,
    SyncAction,
    SyncOperation,
    SyncState,
)
from tests.factories import PartnerFactory, ProviderAccountFactory
from tests.provisioning.conftest import (
    create_customer,
    create_source,
    make_due,
    run_open_operations,
)

pytestmark = pytest.mark.django_db


def test_customer_create_is_pushed_and_its_remote_id_stored(freespee, partner, sandbox):
    customer = create_customer(partner, freespee)

    run_open_operations()

    account = customer.accounts.get()
    assert account.sync_state == SyncState.SYNCED
    assert account.remote_id
    assert account.last_synced_at is not None
    remote = sync.adapter_for(freespee).customer_get(account.remote_id)
    assert (remote.name, remote.custnr) == ("DailyLoans", "1412")
    operation = SyncOperation.objects.get()
    assert operation.state == OperationState.SUCCEEDED
    assert operation.exchanges.filter(method="POST", status=200).count() == 1


def test_recorded_exchanges_never_hold_the_secret(freespee, partner):
    create_customer(partner, freespee)

    run_open_operations()

    secret = DEMO_ACCOUNTS["freespee"][1]
    exchanges = HttpExchange.objects.all()
    assert exchanges.exists()
    for exchange in exchanges:
        text = " ".join(
            [exchange.url, exchange.request_body, exchange.response_body, exchange.error]
        )
        assert secret not in text


def test_source_gets_its_tracking_number_written_back(freespee, partner):
    customer = create_customer(partner, freespee)
    source = create_source(customer, freespee)

    run_open_operations()

    source.refresh_from_db()
    assert source.sync_state == SyncState.SYNCED
    assert source.remote_id
    assert source.destnr.startswith("+")
    assert source.status == "active"


def test_source_waits_for_its_customer_without_calling(freespee, partner, sandbox):
    customer = create_customer(partner, freespee)
    source = create_source(customer, freespee)

    sync.operation_run(operation_id=source.operations.get().id)

    operation = source.operations.get()
    assert operation.state == OperationState.PENDING
    assert operation.attempts == 0
    assert "Waiting for the customer" in operation.error
    assert sandbox.requests_log("freespee") == []


def test_pending_updates_coalesce_and_push_the_latest_state(freespee, partner):
    customer = create_customer(partner, freespee)
    run_open_operations()

    services.customer_update(customer=customer, requested_by=None, name="Daily Loans Ltd")
    services.customer_update(customer=customer, requested_by=None, name="DL Group")
    run_open_operations()

    updates = SyncOperation.objects.filter(action=SyncAction.UPDATE)
    assert updates.count() == 1
    account = customer.accounts.get()
    assert sync.adapter_for(freespee).customer_get(account.remote_id).name == "DL Group"


def test_delete_of_something_never_created_makes_no_call(freespee, partner, sandbox):
    customer = create_customer(partner, freespee)

    services.customer_delete(customer=customer, requested_by=None)
    run_open_operations()

    assert sandbox.requests_log("freespee") == []
    assert customer.accounts.get().sync_state == SyncState.DELETED


def test_transient_errors_back_off_then_fail(freespee, partner, sandbox):
    customer = create_customer(partner, freespee)
    sandbox.set_faults("freespee", error_rate=1.0, error_status=503)
    operation = SyncOperation.objects.get()

    sync.operation_run(operation_id=operation.id)

    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING
    assert operation.attempts == 1
    assert operation.next_attempt_at > timezone.now() - timedelta(seconds=1)
    account = customer.accounts.get()
    assert account.sync_state == SyncState.PENDING
    assert account.sync_error.startswith("Retrying")

    for _ in range(sync.MAX_ATTEMPTS):
        make_due(operation)
        sync.operation_run(operation_id=operation.id)

    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert operation.attempts == sync.MAX_ATTEMPTS
    assert customer.accounts.get().sync_state == SyncState.FAILED


def test_backoff_is_bounded_and_jittered():
    delays = [sync.backoff_seconds(attempt) for attempt in range(1, 30)]

    assert all(0 <= delay <= sync.BACKOFF_CAP_SECONDS for delay in delays)
    assert len(set(delays)) > 1
    assert sync.backoff_seconds(1, retry_after=42) == 42


def test_lost_response_on_create_is_resolved_by_lookup_not_repeated(freespee, partner, sandbox):
    customer = create_customer(partner, freespee)
    operation = SyncOperation.objects.get()
    sandbox.set_faults("freespee", lost_response_rate=1.0)

    sync.operation_run(operation_id=operation.id)

    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING
    sandbox.clear_faults()
    make_due(operation)
    sync.operation_run(operation_id=operation.id)

    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    account = customer.accounts.get()
    found = [c for c in sync.adapter_for(freespee).customer_list() if c.custnr == "1412"]
    assert [c.remote_id for c in found] == [account.remote_id]
    applied = [
        r for r in sandbox.requests_log("freespee") if r["method"] == "POST" and r["status"] == 200
    ]
    assert len(applied) == 1


def test_delete_after_a_create_lost_its_answer_finds_and_deletes_it(freespee, partner, sandbox):
    customer = create_customer(partner, freespee)
    adapter = sync.adapter_for(freespee)
    assert list(adapter.customer_list()) == []  # and the digest challenge is answered
    sandbox.set_faults("freespee", lost_response_rate=1.0)
    sync.operation_run(operation_id=SyncOperation.objects.get().id)
    sandbox.clear_faults()
    assert [c.custnr for c in adapter.customer_list()] == ["1412"]  # created, id unknown

    services.customer_delete(customer=customer, requested_by=None)
    make_due(SyncOperation.objects.get(action=SyncAction.CREATE))
    run_open_operations()

    create = SyncOperation.objects.get(action=SyncAction.CREATE)
    assert create.state == OperationState.SUPERSEDED
    assert SyncOperation.objects.get(action=SyncAction.DELETE).state == OperationState.SUCCEEDED
    assert [c for c in adapter.customer_list() if c.status != "removed"] == []


def test_delete_after_a_source_create_lost_its_answer_ends_the_source(freespee, partner, sandbox):
    customer = create_customer(partner, freespee)
    run_open_operations()
    source = create_source(customer, freespee)
    sandbox.set_faults("freespee", lost_response_rate=1.0)
    create = SyncOperation.objects.get(source=source, action=SyncAction.CREATE)
    sync.operation_run(operation_id=create.id)
    sandbox.clear_faults()
    remote_id = customer.accounts.get().remote_id
    adapter = sync.adapter_for(freespee)
    assert adapter.source_find(remote_id, "AdWords", "Google.com") is not None

    services.source_delete(source=source, requested_by=None)
    make_due(create)
    run_open_operations()

    assert adapter.source_find(remote_id, "AdWords", "Google.com") is None


def test_an_edit_after_a_refused_create_creates_the_customer(surevoip, partner, sandbox):
    customer = create_customer(partner, surevoip, firstname="")
    run_open_operations()
    account = customer.accounts.get()
    assert account.sync_state == SyncState.FAILED and account.sync_error_field == "firstname"

    services.customer_update(customer=customer, requested_by=None, firstname="Dana")
    run_open_operations()

    account.refresh_from_db()
    assert account.sync_state == SyncState.SYNCED and account.remote_id
    found = sync.adapter_for(surevoip).customer_get(account.remote_id)
    assert found.firstname == "Dana"
    assert not [r for r in sandbox.requests_log("surevoip") if r["status"] == 405]


def test_provider_field_error_fails_on_the_portal_field(freespee, partner):
    other = PartnerFactory()
    twin = ProviderAccountFactory(partner=other, base_url=freespee.base_url)
    create_customer(other, twin)
    run_open_operations()
    # The same custnr under another portal partner on the same Freespee login: refused.
    customer = create_customer(partner, freespee)

    run_open_operations()

    account = customer.accounts.get()
    assert account.sync_state == SyncState.FAILED
    assert account.sync_error_field == "custnr"
    assert account.sync_error
    assert SyncOperation.objects.filter(state=OperationState.FAILED).count() == 1


def test_refused_credentials_pause_the_account_and_burn_nothing(freespee, partner):
    ProviderAccount.objects.filter(pk=freespee.pk).update(secret_encrypted="")
    freespee.refresh_from_db()
    services.provider_account_save(provider_account=freespee, secret="wrong-password")
    customer = create_customer(partner, freespee)
    operation = SyncOperation.objects.get()

    sync.operation_run(operation_id=operation.id)

    freespee.refresh_from_db()
    operation.refresh_from_db()
    assert freespee.paused
    assert "credentials" in freespee.paused_reason
    assert operation.state == OperationState.PENDING
    assert operation.attempts == 0
    assert customer.accounts.get().sync_state == SyncState.PENDING

    services.provider_account_save(provider_account=freespee, secret=DEMO_ACCOUNTS["freespee"][1])
    services.provider_account_resume(provider_account=freespee)
    run_open_operations()

    assert customer.accounts.get().sync_state == SyncState.SYNCED


def test_work_waiting_on_a_paused_account_says_so(freespee, partner, sandbox):
    services.provider_account_pause(provider_account=freespee, reason="Maintenance", actor=None)
    customer = create_customer(partner, freespee)

    sync.operation_run(operation_id=SyncOperation.objects.get().id)

    account = customer.accounts.get()
    assert account.sync_state == SyncState.PENDING
    assert "is paused" in account.sync_error and "Maintenance" in account.sync_error
    assert sandbox.requests_log("freespee") == []


def test_a_spent_budget_reschedules_without_calling(freespee, partner, sandbox):
    ProviderAccount.objects.filter(pk=freespee.pk).update(request_budget=2)
    freespee.refresh_from_db()
    first = create_customer(partner, freespee, custnr="1", name="First")
    second = create_customer(partner, freespee, custnr="2", name="Second")

    run_open_operations(limit=1)

    assert first.accounts.get().sync_state == SyncState.SYNCED
    waiting = SyncOperation.objects.get(customer_account__customer=second)
    assert waiting.state == OperationState.PENDING
    assert waiting.attempts == 0
    assert waiting.next_attempt_at > timezone.now() + timedelta(minutes=30)
    # The first request of a client is answered with a digest challenge (401) first.
    posts = [r for r in sandbox.requests_log("freespee") if r["method"] == "POST"]
    assert [r["status"] for r in posts] == [401, 200]


def test_sweeper_redispatches_due_work_and_expired_leases(freespee, partner):
    create_customer(partner, freespee, custnr="1")
    create_customer(partner, freespee, custnr="2")
    create_customer(partner, freespee, custnr="3")
    long_ago = timezone.now() - timedelta(minutes=5)
    lost, died, fresh = SyncOperation.objects.order_by("id")
    SyncOperation.objects.filter(pk=lost.pk).update(dispatched_at=long_ago)
    SyncOperation.objects.filter(pk=died.pk).update(
        state=OperationState.RUNNING, lease_expires_at=long_ago
    )

    swept = sync.operations_sweep()

    assert swept == 2
    fresh.refresh_from_db()
    assert fresh.dispatched_at > long_ago


def test_broker_settings_agree_with_the_engine(settings):
    from provisioning.schedules import PERIODIC_TASKS

    sweep_every = PERIODIC_TASKS["Sweep due and orphaned sync operations"][1]
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    # No countdown handed to the broker may outlive its visibility timeout, and an
    # operation whose worker died is picked up within about a minute.
    assert visibility > sync.SHORT_WAIT_SECONDS
    assert sync.LEASE.total_seconds() + sweep_every <= 60
    assert sync.REDISPATCH_AFTER.total_seconds() < visibility
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_surevoip_customer_and_number_are_provisioned(surevoip, partner):
    customer = create_customer(partner, surevoip)
    number = services.number_create(
        customer=customer,
        provider_account=surevoip,
        requested_by=None,
        e164="+441224900999",
        destination="SIP/01224900999@192.0.2.10:5060",
    )

    run_open_operations()

    account = customer.accounts.get()
    number.refresh_from_db()
    assert account.sync_state == SyncState.SYNCED and account.remote_id
    assert number.sync_state == SyncState.SYNCED
    remote = sync.adapter_for(surevoip).number_get(account.remote_id, "+441224900999")
    assert remote.destination == "SIP/01224900999@192.0.2.10:5060"

    services.number_update(number=number, requested_by=None, destination="+441224279484")
    run_open_operations()

    remote = sync.adapter_for(surevoip).number_get(account.remote_id, "+441224900999")
    assert remote.destination == "+441224279484"


def test_a_source_of_a_customer_that_failed_fails_with_the_reason(freespee, partner, sandbox):
    # Freespee refuses German customers without custom fields 1 to 6.
    customer = create_customer(partner, freespee, country="DEU")
    source = create_source(customer, freespee)

    run_open_operations()

    assert customer.accounts.get().sync_state == SyncState.FAILED
    source.refresh_from_db()
    assert source.sync_state == SyncState.FAILED
    assert source.sync_error_field == "customer"
    assert "custom_1" in source.sync_error
    assert not [r for r in sandbox.requests_log("freespee") if r["path"].endswith("/sources")]


def test_no_secret_reaches_the_logs(freespee, surevoip, partner, caplog):
    caplog.set_level(logging.DEBUG)
    customer = create_customer(partner, freespee, surevoip)
    services.number_create(
        customer=customer,
        provider_account=surevoip,
        requested_by=None,
        e164="+441224900999",
        destination="SIP/01224900999@192.0.2.10:5060",
    )

    run_open_operations()

    assert "succeeded" in caplog.text
    for provider in ("freespee", "surevoip"):
        assert DEMO_ACCOUNTS[provider][1] not in caplog.text
