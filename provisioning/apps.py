from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        from provisioning import checks  # noqa: F401 - registers the system checks
        from provisioning.schedules import periodic_tasks_install

        post_migrate.connect(periodic_tasks_install, sender=self)
