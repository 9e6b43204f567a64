"""Celery tasks: each loads by id, calls the engine and returns.

Task options live here, once (the schedule is in `schedules`). Waits (backoff, budget)
are rows with a due time that the sweeper dispatches, never long countdowns.
"""

from portal.celery import app
from provisioning import imports, reconciliation, services, sync

SYNC_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": 120,
    "time_limit": 150,
    "ignore_result": True,
}
RECONCILIATION_TASK_OPTIONS = {**SYNC_TASK_OPTIONS, "soft_time_limit": 3000, "time_limit": 3300}


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
def reconciliation_run(run_id: int) -> None:
    reconciliation.reconciliation_run(run_id=run_id)


@app.task(**SYNC_TASK_OPTIONS)
def reconciliation_all() -> None:
    services.reconciliation_request_all()


@app.task(**RECONCILIATION_TASK_OPTIONS)
def import_run(job_id: int) -> None:
    imports.import_execute(job_id=job_id)
