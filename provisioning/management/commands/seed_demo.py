"""Load demo data: a partner, its staff user, provider accounts on the local
sandboxes, and a few customers with sources and numbers. Safe to run again."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from integrations.sandbox import (
    DEMO_ACCOUNTS,
    DEMO_FREESPEE_VERSION,
    DEMO_SIPGATE_VERSION,
    DEMO_SUREVOIP_PARTNER,
)
from provisioning import services
from provisioning.models import (
    Customer,
    Partner,
    ProviderAccount,
    ProviderKind,
    StaffMembership,
    StaffRole,
)

DEMO_CUSTOMERS = [
    {
        "custnr": "1412",
        "name": "DailyLoans",
        "email": "ops@dailyloans.example",
        "firstname": "Dana",
        "lastname": "Loan",
        "company_name": "DailyLoans Ltd",
        "phone": "+441224279484",
        "address": "24 Cormack Park, Rothienorman",
        "city": "Inverurie",
        "state": "Aberdeenshire",
        "postcode": "AB51 8GL",
        "country": "GBR",
        "source": {"name": "AdWords", "media": "Google.com", "phonenr": "+441224900100"},
        "number": {"e164": "+441224900123", "destination": "SIP/01224900123@192.0.2.10:5060"},
    },
    {
        "custnr": "1413",
        "name": "Harbour Dental",
        "email": "frontdesk@harbourdental.example",
        "firstname": "Hamish",
        "lastname": "Reid",
        "company_name": "Harbour Dental Practice",
        "phone": "+441312260000",
        "address": "3 Shore Road",
        "city": "Edinburgh",
        "postcode": "EH6 6QW",
        "country": "GBR",
        "source": {"name": "Newspaper", "media": "Scotsman print", "phonenr": "+441312260001"},
        "number": {"e164": "+441315550199", "destination": "+441312260000"},
    },
    {
        "custnr": "1414",
        "name": "Nordlicht Reisen",
        "email": "kontakt@nordlicht.example",
        "firstname": "Greta",
        "lastname": "Berg",
        "company_name": "Nordlicht Reisen GmbH",
        "phone": "+4940123456",
        "address": "Hafenstraße 1",
        "city": "Hamburg",
        "postcode": "20459",
        "country": "DEU",
        # Freespee needs custom fields 1 to 6 for customers in Germany.
        **{f"custom_{n}": f"DE-{n}" for n in range(1, 7)},
        "source": {"name": "Facebook", "media": "facebook.com", "phonenr": "+4940123457"},
        "number": None,
    },
]


class Command(BaseCommand):
    help = "Create (or complete) the demo partner, staff user, provider accounts and customers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", help="Password for the `demo` user (default: random).")

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        partner, _ = Partner.objects.get_or_create(slug="demo", defaults={"name": "Demo Telecom"})
        self.seed_user(partner, options.get("password"))
        freespee = self.seed_provider_account(
            partner,
            ProviderKind.FREESPEE,
            "Freespee sandbox",
            f"{settings.SANDBOX_URL}/freespee",
            api_version=DEMO_FREESPEE_VERSION,
        )
        surevoip = self.seed_provider_account(
            partner,
            ProviderKind.SUREVOIP,
            "SureVoIP sandbox",
            f"{settings.SANDBOX_URL}/surevoip",
            surevoip_partner_name=DEMO_SUREVOIP_PARTNER,
        )
        for spec in DEMO_CUSTOMERS:
            self.seed_customer(partner, dict(spec), freespee, surevoip)
        german = Customer.objects.get(partner=partner, custnr="1414")
        self.seed_provider_account(
            partner,
            ProviderKind.SIPGATE,
            "sipgate sandbox (Nordlicht)",
            f"{settings.SANDBOX_URL}/sipgate",
            api_version=DEMO_SIPGATE_VERSION,
            customer=german,
        )
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))

    def seed_user(self, partner: Partner, password: str | None) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username="demo", defaults={"email": "demo@example.com"}
        )
        user.is_staff = True
        user.is_superuser = True
        if password or created:
            password = password or secrets.token_urlsafe(12)
            user.set_password(password)
            self.stdout.write(f"Demo login: demo / {password}")
        else:
            self.stdout.write("Demo login: demo (password unchanged; set one with --password)")
        user.save()
        StaffMembership.objects.update_or_create(
            user=user, defaults={"partner": partner, "role": StaffRole.ADMIN}
        )

    def seed_provider_account(
        self, partner: Partner, kind: str, name: str, base_url: str, **fields: object
    ) -> ProviderAccount:
        existing = ProviderAccount.objects.filter(partner=partner, name=name).first()
        if existing:
            return existing
        username, password = DEMO_ACCOUNTS[kind]
        return services.provider_account_save(
            provider_account=ProviderAccount(partner=partner),
            secret=password,
            kind=kind,
            name=name,
            base_url=base_url,
            username=username,
            **fields,
        )

    def seed_customer(
        self, partner: Partner, spec: dict, freespee: ProviderAccount, surevoip: ProviderAccount
    ) -> None:
        source, number = spec.pop("source"), spec.pop("number")
        if Customer.objects.filter(partner=partner, custnr=spec["custnr"]).exists():
            return
        accounts = [freespee, surevoip] if number else [freespee]
        customer = services.customer_create(
            partner=partner, provider_accounts=accounts, requested_by=None, **spec
        )
        services.source_create(
            customer=customer, provider_account=freespee, requested_by=None, **source
        )
        if number:
            services.number_create(
                customer=customer, provider_account=surevoip, requested_by=None, **number
            )
