import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from provisioning.models import Customer, ProviderAccount, SyncAction, SyncOperation
from tests.factories import (
    CustomerAccountFactory,
    NumberFactory,
    ProviderAccountFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def changelist_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def make_rows(count: int) -> None:
    for _ in range(count):
        account = CustomerAccountFactory()
        SyncOperation.objects.create(
            partner=account.customer.partner,
            provider_account=account.provider_account,
            customer_account=account,
            action=SyncAction.CREATE,
        )
        SourceFactory(customer=account.customer, provider_account=account.provider_account)
        NumberFactory(customer=account.customer)


@pytest.mark.parametrize(
    "model",
    ["customer", "syncoperation", "customeraccount", "source", "number", "provideraccount"],
)
def test_changelist_queries_do_not_grow_with_rows(support, model):
    url = reverse(f"admin:provisioning_{model}_changelist")
    make_rows(5)
    with_five = changelist_queries(support, url)
    make_rows(95)
    with_hundred = changelist_queries(support, url + "?all=")

    assert with_hundred == with_five


def test_changelist_search_finds_by_custnr_and_remote_id(support):
    account = CustomerAccountFactory(customer__custnr="ZX-99", remote_id="407382")
    CustomerAccountFactory()
    url = reverse("admin:provisioning_customer_changelist")

    by_custnr = support.get(url, {"q": "ZX-99"})
    by_remote_id = support.get(url, {"q": "407382"})

    assert list(by_custnr.context["cl"].result_list) == [account.customer]
    assert list(by_remote_id.context["cl"].result_list) == [account.customer]


def test_customer_page_shows_its_accounts_sources_and_numbers(support):
    account = CustomerAccountFactory(remote_id="407382")
    source = SourceFactory(customer=account.customer, provider_account=account.provider_account)
    number = NumberFactory(customer=account.customer)

    page = support.get(reverse("admin:provisioning_customer_change", args=[account.customer.pk]))

    content = page.content.decode()
    assert "407382" in content
    assert source.name in content
    assert number.e164 in content


def test_provider_account_page_never_shows_the_secret(support):
    account = ProviderAccountFactory(secret="s3cret-Pa55word")

    page = support.get(reverse("admin:provisioning_provideraccount_change", args=[account.pk]))

    assert page.status_code == 200
    assert "s3cret-Pa55word" not in page.content.decode()
    assert account.secret_encrypted not in page.content.decode()


def test_provider_account_secret_is_kept_when_left_empty(support):
    account = ProviderAccountFactory(secret="s3cret-Pa55word", name="Freespee live")
    url = reverse("admin:provisioning_provideraccount_change", args=[account.pk])
    form = {
        "partner": account.partner.pk,
        "kind": "freespee",
        "name": "Freespee renamed",
        "base_url": account.base_url,
        "api_version": "2.4.9",
        "username": account.username,
        "secret": "",
        "request_budget": 5000,
        "request_budget_window": 3600,
    }

    response = support.post(url, form)

    assert response.status_code == 302
    account = ProviderAccount.objects.get(pk=account.pk)
    assert account.name == "Freespee renamed"
    assert account.secret == "s3cret-Pa55word"


def test_admin_customer_create_goes_through_the_services(support):
    provider_account = ProviderAccountFactory()
    url = reverse("admin:provisioning_customer_add")
    form = {
        "partner": provider_account.partner.pk,
        "name": "DailyLoans",
        "custnr": "1412",
        "receive_monthly_report": 0,
        "phone": "01224 279484",
        "accounts-TOTAL_FORMS": 0,
        "accounts-INITIAL_FORMS": 0,
        "sources-TOTAL_FORMS": 0,
        "sources-INITIAL_FORMS": 0,
        "numbers-TOTAL_FORMS": 0,
        "numbers-INITIAL_FORMS": 0,
    }

    response = support.post(url, form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get(custnr="1412")
    assert customer.phone == "+441224279484"


def test_operation_journal_is_read_only(support):
    account = CustomerAccountFactory()
    operation = SyncOperation.objects.create(
        partner=account.customer.partner,
        provider_account=account.provider_account,
        customer_account=account,
        action=SyncAction.CREATE,
    )

    change = support.post(
        reverse("admin:provisioning_syncoperation_change", args=[operation.pk]), {"state": "failed"}
    )
    add = support.get(reverse("admin:provisioning_syncoperation_add"))

    assert change.status_code == 403
    assert add.status_code == 403
    assert SyncOperation.objects.get(pk=operation.pk).state == "pending"
