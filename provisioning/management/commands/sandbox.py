"""Serve the Freespee, SureVoIP and sipgate sandboxes on one port."""

import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.sandbox import Faults, build_app, serve

PROVIDERS = ("freespee", "surevoip", "sipgate")


class Command(BaseCommand):
    help = "Serve the provider sandboxes (Freespee, SureVoIP, sipgate) on one port."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument(
            "--account",
            action="append",
            default=[],
            metavar="PROVIDER:USER:PASSWORD",
            help="An account a sandbox accepts (repeatable). Default: the seed_demo accounts.",
        )
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--error-rate", type=float, default=0.0)
        parser.add_argument(
            "--state-file",
            type=Path,
            help="Keep the sandboxes' state in this file across restarts.",
        )

    def handle(self, *args: object, **options: object) -> None:
        accounts = None
        if options["account"]:
            accounts = {provider: {} for provider in PROVIDERS}
            for spec in options["account"]:
                provider, _, credentials = spec.partition(":")
                user, _, password = credentials.partition(":")
                if provider not in PROVIDERS or not user or not password:
                    raise CommandError(
                        f"--account {spec!r}: expected PROVIDER:USER:PASSWORD with PROVIDER one of "
                        + ", ".join(PROVIDERS)
                    )
                accounts[provider][user] = password
        if not 0 <= options["error_rate"] <= 1:
            raise CommandError("--error-rate is a probability between 0 and 1.")
        faults = Faults(latency_ms=options["latency_ms"], error_rate=options["error_rate"])
        app = build_app(accounts, faults=faults, state_file=options["state_file"])
        server = serve(app, host=options["host"], port=options["port"])
        base = f"http://{options['host']}:{server.port}"
        self.stdout.write(
            f"Sandboxes on {base}: /freespee/<version>/, /surevoip/, /sipgate/; control: /_sandbox/"
        )
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        while not stopped.wait(5):
            app.save()
        app.save()
        server.shutdown()
