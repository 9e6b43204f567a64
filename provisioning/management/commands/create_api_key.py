"""Create an API key for a partner; the key is printed once and stored only hashed."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning import services
from provisioning.models import Partner


class Command(BaseCommand):
    help = "Create an API key for a partner and print it (once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partner", required=True, help="The partner's slug.")
        parser.add_argument("--name", default="API key", help="A label for the key.")

    def handle(self, *args: object, **options: str) -> None:
        partner = Partner.objects.filter(slug=options["partner"]).first()
        if partner is None:
            raise CommandError(f"No partner with slug {options['partner']!r}.")
        api_key, key = services.api_key_create(partner=partner, name=options["name"])
        self.stdout.write(key)
        self.stderr.write(
            f"Created “{api_key.name}” for {partner}; store it now, it is not shown again."
        )
