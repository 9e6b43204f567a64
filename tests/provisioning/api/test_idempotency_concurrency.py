from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from provisioning import services
from provisioning.models import Customer
from tests.factories import PartnerFactory, ProviderAccountFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_create_one_object():
    partner = PartnerFactory()
    freespee = ProviderAccountFactory(partner=partner)
    _, key = services.api_key_create(partner=partner, name="test")
    body = {"name": "DailyLoans", "custnr": "1412", "provider_accounts": [freespee.pk]}

    def post(_: int) -> tuple[int, dict]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        try:
            response = client.post(
                "/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
            )
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(post, range(8)))

    statuses = [status for status, _ in results]
    assert Customer.objects.count() == 1
    assert statuses.count(202) >= 1
    assert set(statuses) <= {202, 409}
    created = {body["id"] for status, body in results if status == 202}
    assert len(created) == 1
