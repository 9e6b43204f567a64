import pytest
from rest_framework.test import APIClient

from provisioning import services
from tests.factories import PartnerFactory, ProviderAccountFactory, SureVoIPAccountFactory


class Tenant:
    """A partner with an API client authenticated by one of its keys."""

    def __init__(self) -> None:
        self.partner = PartnerFactory()
        self.api_key, self.key = services.api_key_create(partner=self.partner, name="test")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")
        self.freespee = ProviderAccountFactory(partner=self.partner)
        self.surevoip = SureVoIPAccountFactory(partner=self.partner)

    def customer(self, **fields):
        defaults = {"name": "DailyLoans", "custnr": "1412", "email": "ops@dailyloans.example"}
        return services.customer_create(
            partner=self.partner,
            provider_accounts=[self.freespee, self.surevoip],
            requested_by=None,
            **{**defaults, **fields},
        )


@pytest.fixture
def tenant(db):
    return Tenant()


@pytest.fixture
def other(db):
    return Tenant()
