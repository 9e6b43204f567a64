import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from integrations.contract import Provider
from integrations.phone import for_provider
from provisioning import services
from provisioning.models import Customer, ProviderAccount
from tests.factories import (
    CustomerFactory,
    NumberFactory,
    PartnerFactory,
    ProviderAccountFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db


def test_custnr_is_unique_per_partner():
    customer = CustomerFactory(custnr="1412")
    duplicate = Customer(partner=customer.partner, name="Other", custnr="1412")

    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()

    assert error.value.message_dict == {
        "custnr": ["You already have a customer with this customer number."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_custnr_is_reusable_across_partners():
    CustomerFactory(custnr="1412")
    other = Customer(partner=PartnerFactory(), name="Other", custnr="1412")

    other.full_clean()
    other.save()

    assert Customer.objects.filter(custnr="1412").count() == 2


def test_custnr_is_reusable_after_the_customer_is_deleted():
    customer = CustomerFactory(custnr="1412")
    services.customer_delete(customer=customer, requested_by=None)

    again = services.customer_create(
        partner=customer.partner, name="Back again", custnr="1412", requested_by=None
    )

    assert again.pk != customer.pk


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("01224 900123", "+441224900123"),
        ("+44 (0)20 7946 0000", "+442079460000"),
        ("00441224900123", "+441224900123"),
        ("441224900123", "+441224900123"),
        ("+46 8 905 10 00", "+4689051000"),
    ],
)
def test_valid_numbers_are_stored_in_e164(raw, e164):
    number = NumberFactory.build(e164=raw, destination=raw)
    source = SourceFactory.build(phonenr=raw)

    number.clean()
    source.clean()

    assert number.e164 == e164
    assert number.destination == e164
    assert source.phonenr == e164


@pytest.mark.parametrize("raw", ["12", "not a number", "+44 1224", "+999 123456789"])
def test_invalid_numbers_are_rejected_naming_the_field(raw):
    number = NumberFactory.build(e164=raw)

    with pytest.raises(ValidationError) as error:
        number.clean()

    assert list(error.value.message_dict) == ["e164"]
    assert raw in error.value.message_dict["e164"][0]


def test_sip_uri_destination_is_kept_as_given():
    number = NumberFactory.build(destination="SIP/01224900123@192.0.2.10:5060")

    number.clean()

    assert number.destination == "SIP/01224900123@192.0.2.10:5060"


def test_numbers_are_formatted_per_provider():
    assert for_provider("+441224900123", Provider.SUREVOIP) == "441224900123"
    assert for_provider("+46890510", Provider.FREESPEE) == "+46890510"
    assert for_provider("+4940123456", Provider.SIPGATE) == "+4940123456"


def test_provider_secret_is_not_stored_in_plain_text():
    account = ProviderAccountFactory(secret="s3cret-Pa55word")

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM provisioning_provideraccount WHERE id = %s", [account.pk])
        row = cursor.fetchone()

    assert "s3cret-Pa55word" not in " ".join(str(value) for value in row)
    assert ProviderAccount.objects.get(pk=account.pk).secret == "s3cret-Pa55word"


def test_sipgate_account_must_belong_to_a_customer():
    account = ProviderAccountFactory.build(kind="sipgate", customer=None)

    with pytest.raises(ValidationError) as error:
        account.full_clean()

    assert "customer" in error.value.message_dict


@pytest.mark.parametrize("country", ["ßßß", "GB", "G1R", "GER", "Swe den"])
def test_country_must_be_an_iso_three_letter_code(country):
    customer = CustomerFactory.build(country=country)

    with pytest.raises(ValidationError) as error:
        customer.clean()

    assert list(error.value.message_dict) == ["country"]


def test_a_customers_phone_and_country_errors_come_together():
    customer = CustomerFactory.build(phone="12", country="GER")

    with pytest.raises(ValidationError) as error:
        customer.clean()

    assert sorted(error.value.message_dict) == ["country", "phone"]
    assert "DEU" in error.value.message_dict["country"][0]


def test_a_country_code_is_stored_in_capitals():
    customer = CustomerFactory.build(country="swe")

    customer.clean()

    assert customer.country == "SWE"
