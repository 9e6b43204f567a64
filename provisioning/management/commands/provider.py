"""Support's direct line to a provider: `provider ping <provider-account-id>`."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning import services
from provisioning.models import ProviderAccount


class Command(BaseCommand):
    help = "Talk to a provider through its adapter. `ping` prints its answer and latency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["ping"])
        parser.add_argument("provider_account_id", nargs="?", type=int)
        parser.add_argument("--partner", help="Partner slug (with --provider instead of an id).")
        parser.add_argument("--provider", choices=["freespee", "surevoip", "sipgate"])

    def handle(self, *args: object, **options: object) -> None:
        accounts = ProviderAccount.objects.select_related("partner")
        if options["provider_account_id"]:
            accounts = accounts.filter(pk=options["provider_account_id"])
        elif options["partner"] and options["provider"]:
            accounts = accounts.filter(partner__slug=options["partner"], kind=options["provider"])
        else:
            raise CommandError("Give a provider account id, or --partner and --provider.")
        if not accounts:
            raise CommandError("No such provider account.")
        failed = False
        for account in accounts:
            ping = services.provider_account_ping(provider_account=account)
            if ping.ok:
                self.stdout.write(
                    f"{account} ({account.partner}): ok in {ping.latency_ms} ms {ping.detail}"
                )
            else:
                failed = True
                self.stdout.write(f"{account} ({account.partner}): FAILED: {ping.detail}")
        if failed:
            raise CommandError("At least one provider did not answer.")
