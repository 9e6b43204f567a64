"""The periodic tasks, declared once and stored with django-celery-beat so
support can change a schedule in the admin."""

import json

from django_celery_beat.models import IntervalSchedule, PeriodicTask

# name -> (task, every N seconds). The sweeper runs often so that a lost wake-up
# or an operation whose worker died is picked up again well within a minute.
PERIODIC_TASKS = {
    "Sweep due and orphaned sync operations": ("provisioning.tasks.operations_sweep", 10),
    "Ping every provider account": ("provisioning.tasks.provider_accounts_ping", 300),
    "Reconcile every provider account": ("provisioning.tasks.reconciliation_all", 3600),
}


def periodic_tasks_install(**kwargs: object) -> None:
    """Create the periodic tasks that do not exist yet; support's edits are kept."""
    for name, (task, seconds) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(name=name, task=task, interval=interval, kwargs=json.dumps({}))
