import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provisioning.budget import (
    BudgetExhausted,
    Purpose,
    budget_remaining,
    budget_reset,
    budget_take,
)
from provisioning.models import BudgetSpend, ProviderAccount
from tests.factories import PartnerFactory, ProviderAccountFactory, SureVoIPAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["database", "redis"])
def store(request, settings) -> str:
    """The budget's shared log in the database (embedded) and in Redis (production)."""
    if request.param == "redis":
        url = os.environ.get("REDIS_URL", "")
        if not url:
            pytest.skip("REDIS_URL is not set")
        settings.REDIS_URL = url
    else:
        settings.REDIS_URL = ""
    return request.param


@pytest.fixture
def accounts(store) -> Iterator[list[ProviderAccount]]:
    partner = PartnerFactory()
    accounts = [
        ProviderAccountFactory(partner=partner, request_budget=10),
        SureVoIPAccountFactory(partner=partner, request_budget=10),
    ]
    for account in accounts:
        budget_reset(provider_account=account)
    yield accounts
    for account in accounts:
        budget_reset(provider_account=account)


def take(account: ProviderAccount, times: int = 1) -> None:
    for _ in range(times):
        budget_take(
            provider_account_id=account.pk,
            budget=account.request_budget,
            window=account.request_budget_window,
            purpose=Purpose.RECONCILE,
        )


def spend_long_ago(account: ProviderAccount, store: str, seconds: int) -> None:
    """Put a request taken `seconds` ago into the account's log."""
    if store == "redis":
        client = redis.Redis.from_url(django_settings.REDIS_URL)
        now, microseconds = client.time()
        client.zadd(f"budget:{account.pk}", {"long-ago": now + microseconds / 1e6 - seconds})
    else:
        BudgetSpend.objects.create(
            provider_account=account, spent_at=timezone.now() - timedelta(seconds=seconds)
        )


def test_remaining_is_the_budget_less_what_each_account_has_taken(accounts):
    freespee, surevoip = accounts
    take(surevoip, 3)

    assert budget_remaining(provider_accounts=accounts) == {freespee.pk: 10, surevoip.pk: 7}


def test_reading_the_remaining_budget_takes_nothing(accounts):
    freespee, _ = accounts
    take(freespee, 9)

    for _ in range(5):
        assert budget_remaining(provider_accounts=[freespee]) == {freespee.pk: 1}
    take(freespee)
    with pytest.raises(BudgetExhausted):
        take(freespee)


def test_requests_taken_before_the_window_are_not_counted(accounts, store):
    freespee, _ = accounts
    spend_long_ago(freespee, store, seconds=freespee.request_budget_window + 60)
    take(freespee, 2)

    assert budget_remaining(provider_accounts=[freespee]) == {freespee.pk: 8}


def test_remaining_is_never_below_zero_when_the_budget_is_lowered(accounts):
    freespee, _ = accounts
    take(freespee, 5)
    freespee.request_budget = 3

    assert budget_remaining(provider_accounts=[freespee]) == {freespee.pk: 0}


def test_reading_many_accounts_costs_one_query_at_most(accounts, store):
    partner = accounts[0].partner
    more = [ProviderAccountFactory(partner=partner) for _ in range(3)]
    for account in more:
        budget_reset(provider_account=account)
    take(accounts[1])

    with CaptureQueriesContext(connection) as queries:
        remaining = budget_remaining(provider_accounts=[*accounts, *more])

    assert remaining[accounts[1].pk] == 9
    assert len(queries) == (0 if store == "redis" else 1)
    for account in more:
        budget_reset(provider_account=account)


def test_no_accounts_ask_nothing(store):
    with CaptureQueriesContext(connection) as queries:
        assert budget_remaining(provider_accounts=[]) == {}

    assert len(queries) == 0
