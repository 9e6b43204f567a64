import pytest
from django.utils import timezone

from provisioning import services, sync
from provisioning.budget import budget_reset
from provisioning.models import OperationState, SyncOperation
from tests.factories import PartnerFactory, ProviderAccountFactory, SureVoIPAccountFactory

CUSTOMER = {
    "name": "DailyLoans",
    "custnr": "1412",
    "email": "ops@dailyloans.example",
    "firstname": "Dana",
    "lastname": "Loan",
    "phone": "+441224279484",
    "address": "24 Cormack Park",
    "city": "Inverurie",
    "postcode": "AB51 8GL",
    "country": "GBR",
}


@pytest.fixture
def partner():
    return PartnerFactory()


@pytest.fixture
def freespee(sandbox, partner):
    account = ProviderAccountFactory(partner=partner, base_url=f"{sandbox.url}/freespee")
    budget_reset(provider_account=account)
    return account


@pytest.fixture
def surevoip(sandbox, partner):
    account = SureVoIPAccountFactory(partner=partner, base_url=f"{sandbox.url}/surevoip")
    budget_reset(provider_account=account)
    return account


def run_open_operations(limit: int = 20) -> None:
    """Run every due operation, in order, until none is left (or `limit` rounds)."""
    for _ in range(limit):
        due = list(
            SyncOperation.objects.filter(
                state=OperationState.PENDING, next_attempt_at__lte=timezone.now()
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not due:
            return
        for operation_id in due:
            sync.operation_run(operation_id=operation_id)


def make_due(operation: SyncOperation) -> None:
    SyncOperation.objects.filter(pk=operation.pk).update(next_attempt_at=timezone.now())


def create_customer(partner, *accounts, **fields):
    return services.customer_create(
        partner=partner,
        provider_accounts=list(accounts),
        requested_by=None,
        **{**CUSTOMER, **fields},
    )


SOURCE = {"name": "AdWords", "media": "Google.com", "phonenr": "+4689051000"}


def create_source(customer, provider_account, **fields):
    return services.source_create(
        customer=customer,
        provider_account=provider_account,
        requested_by=None,
        **{**SOURCE, **fields},
    )
