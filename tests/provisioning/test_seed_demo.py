import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from provisioning.models import Customer, Number, Partner, ProviderAccount, Source, SyncOperation

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Partner, ProviderAccount, Customer, Source, Number, SyncOperation)
    )


def test_seed_demo_is_idempotent_and_the_demo_user_can_log_in():
    call_command("seed_demo", password="demo-password")
    first = counts()
    call_command("seed_demo")

    assert counts() == first
    assert first[:5] == (1, 3, 3, 3, 2)
    user = authenticate(username="demo", password="demo-password")
    assert user is not None and user.is_staff
    assert user.membership.partner.slug == "demo"


def test_seed_demo_points_provider_accounts_at_the_local_sandboxes():
    call_command("seed_demo", password="demo-password")

    urls = sorted(ProviderAccount.objects.values_list("base_url", flat=True))

    assert urls == [
        "http://127.0.0.1:8100/freespee",
        "http://127.0.0.1:8100/sipgate",
        "http://127.0.0.1:8100/surevoip",
    ]
