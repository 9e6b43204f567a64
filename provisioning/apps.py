from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_periodic_tasks(**kwargs: object) -> None:
    from provisioning.tasks import periodic_tasks_install

    periodic_tasks_install()


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        from provisioning import checks  # noqa: F401 - registers the system checks

        post_migrate.connect(_install_periodic_tasks, sender=self)
