import pytest
from django.core.management import CommandError, call_command

from provisioning import services
from provisioning.models import ProviderAccount
from tests.factories import ProviderAccountFactory, SureVoIPAccountFactory

pytestmark = pytest.mark.django_db


def test_provider_ping_prints_the_answer_and_latency(sandbox, capsys):
    freespee = ProviderAccountFactory(base_url=f"{sandbox.url}/freespee")
    surevoip = SureVoIPAccountFactory(base_url=f"{sandbox.url}/surevoip")

    call_command("provider", "ping", str(freespee.pk))
    call_command("provider", "ping", "--partner", surevoip.partner.slug, "--provider", "surevoip")

    out = capsys.readouterr().out
    assert out.count(": ok in ") == 2
    assert ProviderAccount.objects.get(pk=freespee.pk).last_ping_ms is not None
    assert [r["path"] for r in sandbox.requests_log("freespee") if r["status"] == 200] == [
        "/2.4.9/miscellaneous/ping"
    ]


def test_provider_ping_with_refused_credentials_fails_and_pauses(sandbox, capsys):
    account = ProviderAccountFactory(base_url=f"{sandbox.url}/freespee")
    services.provider_account_save(provider_account=account, secret="wrong-password")

    with pytest.raises(CommandError):
        call_command("provider", "ping", str(account.pk))

    account.refresh_from_db()
    assert "FAILED" in capsys.readouterr().out
    assert account.paused
    assert account.last_error


def test_a_good_ping_resumes_an_account_paused_on_refused_credentials(sandbox):
    account = ProviderAccountFactory(base_url=f"{sandbox.url}/freespee")
    services.provider_account_pause(provider_account=account, reason="401")

    call_command("provider", "ping", str(account.pk))

    account.refresh_from_db()
    assert not account.paused
