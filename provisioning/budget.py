"""The request budget of each provider account, shared by every worker process.

A sliding-window log: at most `request_budget` requests in any
`request_budget_window` seconds, counted across all processes and machines, in
Redis when `REDIS_URL` is set and in the database otherwise (the embedded
default). Writes may use only part of the budget so that a share is always left
for reconciliation reads. Celery's own `rate_limit` is per worker and cannot do this.
"""

import math
import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from integrations.errors import TransientError
from provisioning.models import BudgetSpend, ProviderAccount

# The share of every account's budget that only reconciliation reads may use.
RECONCILIATION_SHARE = 0.2
# A request is counted from when it is taken, a little before the provider sees it;
# holding each one a second longer keeps the provider's own window within budget.
MARGIN_SECONDS = 1.0


class Purpose:
    WRITE = "write"
    RECONCILE = "reconcile"


class BudgetExhausted(TransientError):
    """No request left in the account's budget now; `retry_after` says when there will be."""


def limit_for(budget: int, purpose: str) -> int:
    if purpose == Purpose.RECONCILE:
        return budget
    return max(1, math.floor(budget * (1 - RECONCILIATION_SHARE)))


# KEYS[1]: the account's log. ARGV: window (s), limit, unique member.
# Returns 0 when a request was taken, else the seconds until one frees up.
SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
    return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


@cache
def _redis_script(url: str) -> redis.commands.core.Script:
    return redis.Redis.from_url(url).register_script(SLIDING_WINDOW)


def _take_redis(provider_account_id: int, budget: int, window: float, purpose: str) -> float:
    script = _redis_script(settings.REDIS_URL)
    wait = script(
        keys=[f"budget:{provider_account_id}"],
        args=[window, limit_for(budget, purpose), uuid.uuid4().hex],
    )
    return float(wait)


def _take_database(provider_account_id: int, budget: int, window: float, purpose: str) -> float:
    now = timezone.now()
    with transaction.atomic():
        # The account row lock serialises takers on PostgreSQL; SQLite's
        # IMMEDIATE transactions already do.
        ProviderAccount.objects.select_for_update().filter(pk=provider_account_id).exists()
        spent = BudgetSpend.objects.filter(provider_account_id=provider_account_id)
        spent.filter(spent_at__lte=now - timedelta(seconds=window)).delete()
        limit = limit_for(budget, purpose)
        times = list(spent.order_by("spent_at").values_list("spent_at", flat=True)[:budget])
        if len(times) < limit:
            BudgetSpend.objects.create(provider_account_id=provider_account_id, spent_at=now)
            return 0.0
        oldest = times[len(times) - limit]
        return max(0.01, (oldest + timedelta(seconds=window) - now).total_seconds())


def budget_take(*, provider_account_id: int, budget: int, window: int, purpose: str) -> None:
    """Take one request from the account's shared budget or raise BudgetExhausted."""
    take = _take_redis if settings.REDIS_URL else _take_database
    wait = take(provider_account_id, budget, window + MARGIN_SECONDS, purpose)
    if wait > 0:
        raise BudgetExhausted("The account's request budget is spent for now.", retry_after=wait)


def budget_reset(*, provider_account: ProviderAccount) -> None:
    """Forget what the account has spent (support, and tests)."""
    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL).delete(f"budget:{provider_account.pk}")
    BudgetSpend.objects.filter(provider_account=provider_account).delete()


# KEYS[1]: the account's log. ARGV[1]: window (s). Counts the requests taken in the
# window by Redis's clock, as the taker does, and removes nothing.
SPENT_IN_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
"""


def budget_remaining(*, provider_accounts: Iterable[ProviderAccount]) -> dict[int, int]:
    """{account id: requests left in its current window}, for any purpose; nothing is taken.

    One database query or one Redis round trip for all the accounts, so a page listing
    them costs the same however many there are.
    """
    accounts = list(provider_accounts)
    if not accounts:
        return {}
    # The taker's window, margin included, so that "left" is what a take would find.
    windows = {account.pk: account.request_budget_window + MARGIN_SECONDS for account in accounts}
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        script = client.register_script(SPENT_IN_WINDOW)
        pipeline = client.pipeline(transaction=False)
        for account_id, window in windows.items():
            script(keys=[f"budget:{account_id}"], args=[window], client=pipeline)
        spent = dict(zip(windows, pipeline.execute(), strict=True))
    else:
        now = timezone.now()
        # Entries older than the window are only deleted by the next take: skip them.
        in_window = Q()
        for account_id, window in windows.items():
            in_window |= Q(
                provider_account_id=account_id, spent_at__gt=now - timedelta(seconds=window)
            )
        spent = dict(
            BudgetSpend.objects.filter(in_window)
            .order_by()
            .values("provider_account_id")
            .annotate(n=Count("id"))
            .values_list("provider_account_id", "n")
        )
    return {
        account.pk: max(0, account.request_budget - spent.get(account.pk, 0))
        for account in accounts
    }
