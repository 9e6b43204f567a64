"""Shared start-up of the benchmarks: Django on a database of their own."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_setup(name: str) -> None:
    """Point Django at a benchmark database (PostgreSQL when BENCH_DATABASE_URL is set)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", f"sqlite:///{ROOT / 'var' / f'bench-{name}.sqlite3'}"
    )
    os.environ.setdefault("BROKER_DIR", str(ROOT / "var" / f"bench-{name}-broker"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Every run starts from an empty database.
    call_command("flush", interactive=False, verbosity=0)


def customer_contact(n: int) -> dict[str, str]:
    """Customer n's contact fields, complete enough for every provider to accept."""
    return {
        "email": f"c{n}@example.com",
        "firstname": "Ann",
        "lastname": "Bench",
        "phone": "+441224279484",
        "address": f"{n % 200} High Street",
        "city": "Aberdeen",
        "postcode": "AB10 1AA",
        "country": "GBR",
    }
