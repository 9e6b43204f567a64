import pytest
from django.core.exceptions import ValidationError

from provisioning import services
from provisioning.models import (
    Customer,
    OperationState,
    SyncAction,
    SyncOperation,
    SyncState,
)
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ProviderAccountFactory,
    SureVoIPAccountFactory,
)

pytestmark = pytest.mark.django_db


def test_customer_create_writes_the_row_and_one_operation_per_provider_account():
    partner = PartnerFactory()
    accounts = [ProviderAccountFactory(partner=partner), ProviderAccountFactory(partner=partner)]

    customer = services.customer_create(
        partner=partner, provider_accounts=accounts, requested_by=None, name="A", custnr="1"
    )

    operations = SyncOperation.objects.filter(customer_account__customer=customer)
    assert sorted(operations.values_list("action", "state")) == [("create", "pending")] * 2
    assert set(customer.accounts.values_list("sync_state", flat=True)) == {SyncState.PENDING}


def test_bad_input_changes_nothing():
    partner = PartnerFactory()
    account = ProviderAccountFactory(partner=partner)

    with pytest.raises(ValidationError) as error:
        services.customer_create(
            partner=partner,
            provider_accounts=[account],
            requested_by=None,
            name="x" * 61,
            custnr="1",
        )

    assert "name" in error.value.message_dict
    assert Customer.objects.count() == 0
    assert SyncOperation.objects.count() == 0


def test_updates_coalesce_into_the_pending_operation():
    account = ProviderAccountFactory()
    customer = services.customer_create(
        partner=account.partner,
        provider_accounts=[account],
        requested_by=None,
        name="A",
        custnr="1",
    )

    services.customer_update(customer=customer, requested_by=None, name="B")
    services.customer_update(customer=customer, requested_by=None, name="C")

    assert SyncOperation.objects.count() == 1


def test_delete_of_something_never_sent_makes_no_operation():
    account = ProviderAccountFactory()
    customer = services.customer_create(
        partner=account.partner,
        provider_accounts=[account],
        requested_by=None,
        name="A",
        custnr="1",
    )

    services.customer_delete(customer=customer, requested_by=None)

    operation = SyncOperation.objects.get()
    assert operation.state == OperationState.SUPERSEDED
    assert customer.accounts.get().sync_state == SyncState.DELETED


def test_delete_supersedes_pending_updates_of_a_created_object():
    account = ProviderAccountFactory()
    customer = CustomerFactory(partner=account.partner)
    customer_account = customer.accounts.create(
        provider_account=account, remote_id="407382", sync_state=SyncState.SYNCED
    )
    update = services.sync_operation_enqueue(
        obj=customer_account, action=SyncAction.UPDATE, requested_by=None
    )

    services.customer_delete(customer=customer, requested_by=None)

    update.refresh_from_db()
    assert update.state == OperationState.SUPERSEDED
    delete = SyncOperation.objects.get(action=SyncAction.DELETE)
    assert delete.state == OperationState.PENDING
    customer_account.refresh_from_db()
    assert customer_account.sync_state == SyncState.DELETING


def test_provider_account_of_another_partner_is_refused():
    account = ProviderAccountFactory()

    with pytest.raises(ValidationError) as error:
        services.customer_create(
            partner=PartnerFactory(),
            provider_accounts=[account],
            requested_by=None,
            name="A",
            custnr="1",
        )

    assert "provider_account" in error.value.message_dict


def test_a_source_or_number_needs_its_customer_at_that_provider():
    partner = PartnerFactory()
    freespee = ProviderAccountFactory(partner=partner)
    surevoip = SureVoIPAccountFactory(partner=partner)
    customer = CustomerFactory(partner=partner)

    with pytest.raises(ValidationError) as source_refused:
        services.source_create(
            customer=customer,
            provider_account=freespee,
            requested_by=None,
            name="AdWords",
            media="Google.com",
            phonenr="+4689051000",
        )
    with pytest.raises(ValidationError) as number_refused:
        services.number_create(
            customer=customer, provider_account=surevoip, requested_by=None, e164="+441224279484"
        )

    for refused in (source_refused, number_refused):
        assert "has no account at" in refused.value.message_dict["provider_account"][0]
    assert not SyncOperation.objects.exists()


def test_a_number_the_portal_holds_is_refused_on_its_field():
    partner = PartnerFactory()
    surevoip = SureVoIPAccountFactory(partner=partner)
    customer = services.customer_create(
        partner=partner, provider_accounts=[surevoip], requested_by=None, name="A", custnr="1"
    )
    services.number_create(
        customer=customer, provider_account=surevoip, requested_by=None, e164="+441224279484"
    )

    with pytest.raises(ValidationError) as refused:
        services.number_create(
            customer=customer, provider_account=surevoip, requested_by=None, e164="01224 279484"
        )

    assert refused.value.message_dict == {"e164": ["The portal already holds this number."]}
