"""Forms of the staff web UI. They validate input; the services write."""

from django import forms

from provisioning.models import (
    CUSTOM_FIELD_COUNT,
    CUSTOMER_FIELDS,
    Customer,
    ImportKind,
    Number,
    Partner,
    ProviderAccount,
    ProviderKind,
    Source,
    SyncState,
)

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class CustomerForm(forms.ModelForm):
    provider_accounts = forms.ModelMultipleChoiceField(
        queryset=ProviderAccount.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Create the customer at these providers.",
    )

    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS

    def __init__(self, *args, partner: Partner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.partner = partner
        accounts = ProviderAccount.objects.filter(partner=partner).exclude(
            kind=ProviderKind.SIPGATE
        )
        if self.instance.pk:
            accounts = accounts.exclude(customer_accounts__customer=self.instance)
        self.fields["provider_accounts"].queryset = accounts
        if self.instance.pk and not accounts:
            del self.fields["provider_accounts"]

    @property
    def custom_fields(self) -> list[forms.BoundField]:
        return [self[f"custom_{n}"] for n in range(1, CUSTOM_FIELD_COUNT + 1)]

    def service_fields(self) -> dict:
        """The model fields to hand to the service."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = [
            "provider_account",
            "name",
            "media",
            "phonenr",
            "activation_at",
            "expire_at",
            "source_class",
            "notify_on_missed_call",
            "vm_divert_all",
            "vm_divert_busy",
            "vm_divert_noanswer",
        ]
        widgets = {"activation_at": DATETIME_WIDGET, "expire_at": DATETIME_WIDGET}

    def __init__(self, *args, customer: Customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.customer = customer
        self.fields["provider_account"].queryset = ProviderAccount.objects.filter(
            partner_id=customer.partner_id, kind=ProviderKind.FREESPEE
        )
        if self.instance.pk:
            del self.fields["provider_account"]

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields if name != "provider_account"}


class NumberForm(forms.ModelForm):
    class Meta:
        model = Number
        fields = ["provider_account", "e164", "destination", "activated", "ported"]

    def __init__(self, *args, customer: Customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.customer = customer
        self.fields["provider_account"].queryset = ProviderAccount.objects.filter(
            partner_id=customer.partner_id, kind=ProviderKind.SUREVOIP
        )

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields if name != "provider_account"}


class NumberRoutingForm(forms.ModelForm):
    class Meta:
        model = Number
        fields = ["destination", "activated", "outgoing", "dnd"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.provider_account.kind != ProviderKind.SIPGATE:
            del self.fields["outgoing"]
            del self.fields["dnd"]

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields}


class NumberSearchForm(forms.Form):
    area = forms.CharField(
        required=False, max_length=40, help_text="Area code or name, e.g. 1224 or Aberdeen."
    )
    number_filter = forms.CharField(
        required=False, max_length=20, label="Vanity letters or digits", help_text="e.g. CALL"
    )
    number_range = forms.CharField(required=False, max_length=60, help_text="e.g. 1000-1999,3000")


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100)
    sync_state = forms.ChoiceField(required=False, choices=[("", "Any state"), *SyncState.choices])
    provider = forms.ChoiceField(
        required=False, choices=[("", "Any provider"), *ProviderKind.choices]
    )


class CsvImportForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportKind.choices, label="What the file holds")
    file = forms.FileField(
        help_text=(
            "CSV (UTF-8) with a header row. Customers: name, custnr, email, phone, firstname, "
            "lastname, company_name, address, city, postcode, country. "
            "Numbers: custnr, e164, destination, activated."
        )
    )
    provider_accounts = forms.ModelMultipleChoiceField(
        queryset=ProviderAccount.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, partner: Partner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider_accounts"].queryset = ProviderAccount.objects.filter(
            partner=partner
        ).exclude(kind=ProviderKind.SIPGATE)
