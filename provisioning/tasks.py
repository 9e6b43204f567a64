"""Celery tasks: each loads by id, calls the engine and returns.

Task options and the periodic schedule live here, once. Waits (backoff, budget)
are rows with a due time that the sweeper dispatches, never long countdowns.
"""

import json

from django_celery_beat.models import IntervalSchedule, PeriodicTask

from portal.celery import app
from provisioning import reconciliation, sync

SYNC_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": 120,
    "time_limit": 150,
    "ignore_result": True,
}
RECONCILIATION_TASK_OPTIONS = {**SYNC_TASK_OPTIONS, "soft_time_limit": 3000, "time_limit": 3300}

# name -> (task, every N seconds). Installed into django-celery-beat after
# migrate, so support can change a schedule in the admin; existing ones are kept.
PERIODIC_TASKS = {
    "Sweep due and orphaned sync operations": ("provisioning.tasks.operations_sweep", 10),
    "Ping every provider account": ("provisioning.tasks.provider_accounts_ping", 300),
    "Reconcile every provider account": ("provisioning.tasks.reconciliation_all", 3600),
}


@app.task(**SYNC_TASK_OPTIONS)
def sync_operation_run(operation_id: int) -> None:
    sync.operation_run(operation_id=operation_id)


@app.task(**SYNC_TASK_OPTIONS)
def operations_sweep() -> int:
    return sync.operations_sweep()


@app.task(**SYNC_TASK_OPTIONS)
def provider_accounts_ping() -> None:
    reconciliation.provider_accounts_ping()


@app.task(**RECONCILIATION_TASK_OPTIONS)
def reconciliation_run(provider_account_id: int) -> None:
    reconciliation.reconciliation_run(provider_account_id=provider_account_id)


@app.task(**SYNC_TASK_OPTIONS)
def reconciliation_all() -> None:
    for provider_account_id in reconciliation.reconcilable_account_ids():
        reconciliation_run.delay(provider_account_id)


def periodic_tasks_install(**kwargs: object) -> None:
    """Create the periodic tasks that do not exist yet (run after migrate)."""
    for name, (task, seconds) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(name=name, task=task, interval=interval, kwargs=json.dumps({}))
