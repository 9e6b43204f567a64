"""Forms of the staff web UI. They validate input; the services write."""

from django import forms

from provisioning.models import (
    CUSTOM_FIELD_COUNT,
    CUSTOMER_FIELDS,
    ApiKey,
    Customer,
    ImportKind,
    Number,
    Partner,
    ProviderAccount,
    ProviderKind,
    Source,
    StaffRole,
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
        # "Sweden" is refused with a reason, not cut to "Swe" by the browser.
        self.fields["country"].widget.attrs.pop("maxlength", None)
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
        # The Freespee accounts the customer is at: a source needs its customer there.
        self.fields["provider_account"].queryset = ProviderAccount.objects.filter(
            partner_id=customer.partner_id,
            kind=ProviderKind.FREESPEE,
            customer_accounts__customer=customer,
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
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        required=False,
        empty_label=None,
        label="SureVoIP account",
    )
    area = forms.CharField(
        required=False, max_length=40, help_text="Area code or name, e.g. 1224 or Aberdeen."
    )
    number_filter = forms.CharField(
        required=False, max_length=20, label="Vanity letters or digits", help_text="e.g. CALL"
    )
    number_range = forms.CharField(required=False, max_length=60, help_text="e.g. 1000-1999,3000")

    def __init__(self, *args, accounts, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        if accounts.count() < 2:
            del self.fields["account"]  # nothing to choose

    def has_search(self) -> bool:
        return any(
            self.cleaned_data.get(name) for name in ("area", "number_filter", "number_range")
        )


class ListFilterForm(forms.Form):
    """Search and filters of the customer and number lists."""

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


class StaffAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=StaffRole.choices, initial=StaffRole.VIEWER)
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        strip=False,
        help_text="They can change it after logging in.",
    )
    password_again = forms.CharField(
        label="Password (again)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class StaffUpdateForm(forms.Form):
    role = forms.ChoiceField(choices=StaffRole.choices)
    is_active = forms.BooleanField(
        required=False, label="Can log in", help_text="Untick to take their login away."
    )


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name"]
        help_texts = {"name": "What uses the key, e.g. “billing system”."}


class ProviderAccountForm(forms.ModelForm):
    """A provider account's settings. The secret is write-only: never shown, and
    left blank on an existing account it keeps the stored one."""

    secret = forms.CharField(
        label="Password or API secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    base_url = forms.URLField(label="Base URL", max_length=300, assume_scheme="https")
    customer_custnr = forms.CharField(
        label="Customer number",
        required=False,
        max_length=50,
        help_text="sipgate only: the customer this sipgate account belongs to.",
    )

    # The service's errors on the account's customer belong on the field that names it.
    service_error_fields = {"customer": "customer_custnr"}

    class Meta:
        model = ProviderAccount
        fields = [
            "kind",
            "name",
            "base_url",
            "api_version",
            "username",
            "surevoip_partner_name",
            "request_budget",
            "request_budget_window",
        ]
        labels = {"api_version": "API version", "surevoip_partner_name": "SureVoIP partner name"}

    field_order = [
        "kind",
        "name",
        "base_url",
        "api_version",
        "username",
        "secret",
        "surevoip_partner_name",
        "customer_custnr",
    ]

    def __init__(self, *args, partner: Partner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partner = partner
        self.instance.partner = partner
        if self.instance.pk:
            del self.fields["kind"]
            self.fields["secret"].help_text = "Leave blank to keep the stored one."
            if self.instance.customer_id:
                self.initial["customer_custnr"] = self.instance.customer.custnr
        else:
            self.fields["secret"].required = True

    def clean_customer_custnr(self) -> Customer | None:
        custnr = self.cleaned_data["customer_custnr"].strip()
        if not custnr:
            return None
        if self.instance.customer_id and self.instance.customer.custnr == custnr:
            return self.instance.customer  # kept, even if the customer has since been deleted
        customer = Customer.objects.filter(
            partner=self.partner, custnr=custnr, deleted_at__isnull=True
        ).first()
        if customer is None:
            raise forms.ValidationError(f"You have no customer numbered {custnr}.")
        return customer

    def _post_clean(self) -> None:
        # The service validates the whole account, secret included, when it saves it.
        pass

    def service_fields(self) -> dict:
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.fields}
        fields["customer"] = self.cleaned_data["customer_custnr"]
        return fields


class PauseForm(forms.Form):
    reason = forms.CharField(
        max_length=300, initial="Paused for maintenance.", help_text="Shown on the dashboard."
    )
