import factory
from django.contrib.auth import get_user_model

from integrations.sandbox import DEMO_ACCOUNTS, DEMO_FREESPEE_VERSION, DEMO_SUREVOIP_PARTNER
from provisioning import models, services


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Partner
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery")


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StaffMembership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = models.StaffRole.OPERATOR


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ProviderAccount

    partner = factory.SubFactory(PartnerFactory)
    kind = models.ProviderKind.FREESPEE
    name = factory.Sequence(lambda n: f"Account {n}")
    base_url = "http://127.0.0.1:8100/freespee"
    api_version = DEMO_FREESPEE_VERSION
    username = DEMO_ACCOUNTS["freespee"][0]
    secret = DEMO_ACCOUNTS["freespee"][1]


class SureVoIPAccountFactory(ProviderAccountFactory):
    kind = models.ProviderKind.SUREVOIP
    base_url = "http://127.0.0.1:8100/surevoip"
    api_version = ""
    surevoip_partner_name = DEMO_SUREVOIP_PARTNER
    username = DEMO_ACCOUNTS["surevoip"][0]
    secret = DEMO_ACCOUNTS["surevoip"][1]


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Customer

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    custnr = factory.Sequence(lambda n: f"C{n:05d}")
    email = factory.LazyAttribute(lambda o: f"{o.custnr.lower()}@example.com")


class CustomerAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CustomerAccount

    customer = factory.SubFactory(CustomerFactory)
    provider_account = factory.SubFactory(
        ProviderAccountFactory, partner=factory.SelfAttribute("..customer.partner")
    )


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Source

    customer = factory.SubFactory(CustomerFactory)
    provider_account = factory.SubFactory(
        ProviderAccountFactory, partner=factory.SelfAttribute("..customer.partner")
    )
    name = factory.Sequence(lambda n: f"Campaign {n}")
    media = "Google.com"
    phonenr = "+441224900100"


class NumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Number

    customer = factory.SubFactory(CustomerFactory)
    provider_account = factory.SubFactory(
        SureVoIPAccountFactory, partner=factory.SelfAttribute("..customer.partner")
    )
    e164 = factory.Sequence(lambda n: f"+4412249{n:05d}")
    destination = "SIP/100@192.0.2.10:5060"


class SyncOperationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SyncOperation

    customer_account = factory.SubFactory(CustomerAccountFactory)
    partner = factory.SelfAttribute("customer_account.customer.partner")
    provider_account = factory.SelfAttribute("customer_account.provider_account")
    action = models.SyncAction.CREATE


def populate(partner, count: int, start: int = 0) -> None:
    """`count` customers at the partner's Freespee and SureVoIP accounts (made on
    the first call), each with a source and a number."""
    accounts = models.ProviderAccount.objects.filter(partner=partner)
    freespee = accounts.filter(kind=models.ProviderKind.FREESPEE).first()
    freespee = freespee or ProviderAccountFactory(partner=partner)
    surevoip = accounts.filter(kind=models.ProviderKind.SUREVOIP).first()
    surevoip = surevoip or SureVoIPAccountFactory(partner=partner)
    for n in range(start, start + count):
        customer = services.customer_create(
            partner=partner,
            provider_accounts=[freespee, surevoip],
            requested_by=None,
            name=f"Customer {n}",
            custnr=f"C{n:04d}",
        )
        SourceFactory(customer=customer, provider_account=freespee)
        NumberFactory(customer=customer, provider_account=surevoip)
