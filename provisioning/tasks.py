"""Celery tasks: each loads by id, calls the sync engine and returns.

Task options live here, once. Waits (backoff, budget) are rows with a due time
that the sweeper dispatches, never long countdowns in the broker.
"""

from portal.celery import app
from provisioning import sync

SYNC_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": 120,
    "time_limit": 150,
    "ignore_result": True,
}


@app.task(**SYNC_TASK_OPTIONS)
def sync_operation_run(operation_id: int) -> None:
    sync.operation_run(operation_id=operation_id)
