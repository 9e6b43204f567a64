"""The portal's domain: partners, their provider accounts, customers, sources,
numbers, and the sync journal that says what is live at each provider.

Field lengths and choices follow the providers' documentation (Freespee's
/customers and /sources resources, SureVoIP's customer and numbers resources).
"""

import hashlib
import re
import secrets

import pycountry
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.phone import InvalidPhoneNumber, parse_e164
from provisioning import encryption

CUSTOM_FIELD_COUNT = 20  # Freespee custom_1 … custom_20


class ProviderKind(models.TextChoices):
    FREESPEE = "freespee", "Freespee"
    SUREVOIP = "surevoip", "SureVoIP"
    SIPGATE = "sipgate", "sipgate"


class StaffRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    VIEWER = "viewer", "Viewer"


class SyncState(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCING = "syncing", "Syncing"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"
    DRIFTED = "drifted", "Drifted"
    DELETING = "deleting", "Deleting"
    DELETED = "deleted", "Deleted"


class MonthlyReport(models.IntegerChoices):
    """Freespee `receive_monthly_report`."""

    NONE = 0, "No report"
    EXTENDED = 1, "Extended"
    SHORT = 2, "Short"


class SourceStatus(models.TextChoices):
    """Freespee source lifecycle."""

    ACTIVE = "active", "Active"
    UPCOMING = "upcoming", "Upcoming"
    RESERVED = "reserved", "Reserved"
    QUARANTINED = "quarantined", "Quarantined"
    ARCHIVED = "archived", "Archived"
    EXTENDED = "extended", "Extended"


class SyncAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


class OperationState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # Folded into a later operation on the same object (coalesced or superseded by a delete).
    SUPERSEDED = "superseded", "Superseded"


# An operation in these states is still on its way to the provider.
OPEN_OPERATION_STATES = (OperationState.PENDING, OperationState.RUNNING)


def choices_constraint(
    field: str, choices: type[models.Choices], name: str
) -> models.CheckConstraint:
    """A database check that `field` holds one of its enumeration's values."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


def phone_number_or_error(value: str, field: str) -> str:
    """The number in E.164, or a ValidationError naming the field."""
    try:
        return parse_e164(value)
    except InvalidPhoneNumber as exc:
        raise ValidationError({field: str(exc)}) from None


SIP_URI = re.compile(r"^(sips?:|SIP/)[^\s@]+@[A-Za-z0-9.\-\[\]:_]+$")


class Partner(models.Model):
    """A reseller: the tenant boundary."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StaffMembership(models.Model):
    """A staff user's partner and role."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=StaffRole.choices, default=StaffRole.VIEWER)

    class Meta:
        constraints = [choices_constraint("role", StaffRole, "staff_role_valid")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()} at {self.partner})"


class ApiKey(models.Model):
    """A partner's API key; only its SHA-256 hash is stored."""

    PREFIX_LENGTH = 8

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(key: str) -> str:
        # Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
        return hashlib.sha256(key.encode()).hexdigest()

    def set_new_key(self) -> str:
        """Give the key a fresh random value; the plain key is returned once and never stored."""
        key = f"pk_{secrets.token_urlsafe(32)}"
        self.prefix = key[: self.PREFIX_LENGTH]
        self.key_hash = self.hash(key)
        return key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ProviderAccount(models.Model):
    """A partner's credentials and health at one provider."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="provider_accounts")
    kind = models.CharField(max_length=16, choices=ProviderKind.choices)
    name = models.CharField(max_length=100, help_text="A label for staff, e.g. “Freespee live”.")
    base_url = models.URLField(max_length=300)
    api_version = models.CharField(
        max_length=20,
        blank=True,
        help_text="Freespee: the version path segment; sipgate: `version`.",
    )
    username = models.CharField(max_length=150)
    secret_encrypted = models.TextField(editable=False)
    surevoip_partner_name = models.CharField(
        max_length=100, blank=True, help_text="SureVoIP: the partner name in /partners/{partner}/."
    )
    customer = models.ForeignKey(
        "Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="own_provider_accounts",
        help_text="sipgate: the customer this sipgate account belongs to.",
    )
    # The request budget shared by every worker: this many requests per window
    # (SureVoIP allows 5000 an hour), a share of it kept for reconciliation reads.
    request_budget = models.PositiveIntegerField(
        default=5000, validators=[MinValueValidator(1)], help_text="Requests allowed per window."
    )
    request_budget_window = models.PositiveIntegerField(
        "budget window (seconds)", default=3600, validators=[MinValueValidator(1)]
    )
    # Set from the provider's own rate-limit headers when it says we are out.
    rate_limited_until = models.DateTimeField(null=True, blank=True, editable=False)
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=300, blank=True)
    # Who paused it: a person's pause lasts until a person resumes; one the portal made
    # itself (the provider refused the credentials) ends at the next good ping.
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_ping_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner", "kind", "name"]
        constraints = [
            choices_constraint("kind", ProviderKind, "provider_account_kind_valid"),
            models.UniqueConstraint(
                fields=["partner", "name"], name="provider_account_name_unique"
            ),
            models.CheckConstraint(
                condition=~Q(kind=ProviderKind.SIPGATE) | Q(customer__isnull=False),
                name="sipgate_account_has_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def secret(self) -> str:
        return encryption.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encryption.encrypt(value)

    def clean(self) -> None:
        if self.kind == ProviderKind.SIPGATE and self.customer_id is None:
            raise ValidationError({"customer": "A sipgate account belongs to one customer."})
        if self.kind != ProviderKind.SIPGATE and self.customer_id is not None:
            raise ValidationError({"customer": "Only a sipgate account belongs to a customer."})
        if self.customer_id and self.customer.partner_id != self.partner_id:
            raise ValidationError({"customer": "The customer belongs to another partner."})
        if self.kind == ProviderKind.SUREVOIP and not self.surevoip_partner_name:
            raise ValidationError({"surevoip_partner_name": "SureVoIP needs the partner name."})


class SyncedModel(models.Model):
    """What every object mirrored at a provider carries: its sync state and why."""

    sync_state = models.CharField(
        max_length=16, choices=SyncState.choices, default=SyncState.PENDING, db_index=True
    )
    sync_error = models.TextField(
        blank=True, help_text="Why it failed, in words a partner understands."
    )
    sync_error_field = models.CharField(max_length=60, blank=True)
    # Per-field difference found by reconciliation: {"field": {"portal": …, "provider": …}}.
    drift = models.JSONField(default=dict, blank=True)
    remote_id = models.CharField(max_length=100, blank=True, db_index=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Customer(models.Model):
    """A partner's end customer, provider-neutral."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(max_length=60)
    custnr = models.CharField(
        "customer number", max_length=45, help_text="Your own customer number, unique among yours."
    )
    email = models.EmailField(max_length=150, blank=True)
    corporateid = models.CharField(
        "corporate id", max_length=40, blank=True, help_text="e.g. VAT number"
    )
    # Contact and address, as SureVoIP's customer resource needs them.
    firstname = models.CharField("first name", max_length=100, blank=True)
    lastname = models.CharField("last name", max_length=100, blank=True)
    company_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="Stored in E.164.")
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField("county / state", max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=3, blank=True, help_text="ISO 3166 alpha-3, e.g. GBR.")
    receive_monthly_report = models.PositiveSmallIntegerField(
        choices=MonthlyReport.choices, default=MonthlyReport.NONE
    )
    freespee_caller_id = models.BooleanField(
        default=False, help_text="Show the Freespee number as caller id."
    )
    # Set when the partner deletes the customer; the provider deletes then run
    # and the row stays for the journal.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "custnr"],
                condition=Q(deleted_at__isnull=True),
                name="custnr_unique_per_partner",
                violation_error_code="custnr_taken",
                violation_error_message="You already have a customer with this customer number.",
            ),
            choices_constraint("receive_monthly_report", MonthlyReport, "monthly_report_valid"),
        ]
        indexes = [models.Index(fields=["partner", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.custnr})"

    def validate_constraints(self, exclude: set[str] | None = None) -> None:
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            # A conditional unique constraint reports without a field: put it on custnr.
            errors = error.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            taken = [e for e in general if getattr(e, "code", "") == "custnr_taken"]
            if taken:
                errors.setdefault("custnr", []).extend(taken)
            rest = [e for e in general if e not in taken]
            if rest:
                errors[NON_FIELD_ERRORS] = rest
            raise ValidationError(errors) from None

    def clean(self) -> None:
        errors = {}
        if self.phone:
            try:
                self.phone = phone_number_or_error(self.phone, "phone")
            except ValidationError as error:
                errors.update(error.message_dict)
        if self.country:
            # Check before upper-casing: "ß".upper() is "SS", which would overflow the column.
            if not re.fullmatch(r"[A-Za-z]{3}", self.country):
                errors["country"] = ["Use the three-letter ISO code, e.g. GBR."]
            elif pycountry.countries.get(alpha_3=self.country.upper()) is None:
                errors["country"] = [
                    f"{self.country.upper()} is no country's ISO code (e.g. GBR, DEU, SWE)."
                ]
            else:
                self.country = self.country.upper()
        if errors:
            raise ValidationError(errors)


# Freespee's custom_1 … custom_20, 255 characters each.
for _number in range(1, CUSTOM_FIELD_COUNT + 1):
    models.CharField(f"custom {_number}", max_length=255, blank=True).contribute_to_class(
        Customer, f"custom_{_number}"
    )


# What a partner edits on a customer: the UI's form and the API's resource.
CUSTOMER_FIELDS = [
    "name",
    "custnr",
    "email",
    "corporateid",
    "firstname",
    "lastname",
    "company_name",
    "phone",
    "address",
    "city",
    "state",
    "postcode",
    "country",
    "receive_monthly_report",
    "freespee_caller_id",
    *[f"custom_{n}" for n in range(1, CUSTOM_FIELD_COUNT + 1)],
]


class CustomerAccount(SyncedModel):
    """A customer at one provider account; `remote_id` is Freespee's customer_id,
    SureVoIP's account name or the sipgate user id."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="accounts")
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="customer_accounts"
    )

    class Meta:
        ordering = ["customer", "provider_account"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "provider_account"], name="customer_account_unique"
            ),
            models.UniqueConstraint(
                fields=["provider_account", "remote_id"],
                condition=~Q(remote_id=""),
                name="customer_account_remote_id_unique",
            ),
            choices_constraint("sync_state", SyncState, "customer_account_sync_state_valid"),
        ]
        # The dashboard counts states per provider account from the index alone.
        indexes = [
            models.Index(
                fields=["provider_account", "sync_state"], name="customer_account_state_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer} at {self.provider_account}"


class Source(SyncedModel):
    """A Freespee source: a tracking number bought for a campaign, forwarding to `phonenr`."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sources")
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="sources"
    )
    name = models.CharField(max_length=60)
    media = models.CharField(max_length=100, help_text="Where the campaign runs, e.g. Google.com.")
    phonenr = models.CharField(
        "answering number", max_length=20, help_text="Calls to the tracking number go here."
    )
    activation_at = models.DateTimeField(null=True, blank=True, help_text="Empty: active at once.")
    expire_at = models.DateTimeField(null=True, blank=True)
    source_class = models.PositiveSmallIntegerField("class", default=0)
    notify_on_missed_call = models.BooleanField(default=False)
    vm_divert_all = models.BooleanField("voicemail for all calls", default=False)
    vm_divert_busy = models.BooleanField("voicemail when busy", default=False)
    vm_divert_noanswer = models.BooleanField("voicemail when not answered", default=False)
    # Reconciled back from Freespee.
    destnr = models.CharField("tracking number", max_length=20, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=SourceStatus.choices, blank=True)

    class Meta:
        ordering = ["customer", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "name", "media"], name="source_name_media_unique"
            ),
            models.UniqueConstraint(
                fields=["provider_account", "remote_id"],
                condition=~Q(remote_id=""),
                name="source_remote_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(status="") | Q(status__in=SourceStatus.values),
                name="source_status_valid",
            ),
            choices_constraint("sync_state", SyncState, "source_sync_state_valid"),
        ]
        indexes = [models.Index(fields=["provider_account", "sync_state"], name="source_state_idx")]

    def __str__(self) -> str:
        return f"{self.name} / {self.media}"

    def clean(self) -> None:
        if self.phonenr:
            self.phonenr = phone_number_or_error(self.phonenr, "phonenr")
        if self.activation_at and self.expire_at and self.expire_at <= self.activation_at:
            raise ValidationError({"expire_at": "The expiry must be after the activation."})


class Number(SyncedModel):
    """A phone number on a customer's account: a SureVoIP DDI or a sipgate number."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="numbers")
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.PROTECT, related_name="numbers"
    )
    e164 = models.CharField("number", max_length=20, help_text="Stored in E.164.")
    destination = models.CharField(
        max_length=255, blank=True, help_text="Where calls go: a SIP URI or a phone number."
    )
    activated = models.BooleanField(default=True)
    ported = models.BooleanField(default=False, help_text="Ported in from another provider.")
    # sipgate only.
    extension = models.CharField(max_length=20, blank=True, help_text="sipgate extension, e.g. e0.")
    outgoing = models.BooleanField(default=False, help_text="sipgate: the extension's caller id.")
    dnd = models.BooleanField("do not disturb", default=False)

    class Meta:
        ordering = ["e164"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_account", "e164"], name="number_unique_per_provider_account"
            ),
            choices_constraint("sync_state", SyncState, "number_sync_state_valid"),
        ]
        indexes = [models.Index(fields=["provider_account", "sync_state"], name="number_state_idx")]

    def __str__(self) -> str:
        return self.e164

    def clean(self) -> None:
        if self.e164:
            self.e164 = phone_number_or_error(self.e164, "e164")
        destination = self.destination.strip()
        if destination and not SIP_URI.match(destination):
            self.destination = phone_number_or_error(destination, "destination")


class SyncOperation(models.Model):
    """One push of an object to a provider: the outbox and the journal."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="operations")
    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="operations"
    )
    # Exactly one of these is set: the object pushed.
    customer_account = models.ForeignKey(
        CustomerAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="operations"
    )
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, null=True, blank=True, related_name="operations"
    )
    number = models.ForeignKey(
        Number, on_delete=models.CASCADE, null=True, blank=True, related_name="operations"
    )
    action = models.CharField(max_length=8, choices=SyncAction.choices)
    state = models.CharField(
        max_length=12, choices=OperationState.choices, default=OperationState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When a worker was last asked to run it; the sweeper re-sends lost wake-ups.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_field = models.CharField(max_length=60, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_constraint("action", SyncAction, "operation_action_valid"),
            choices_constraint("state", OperationState, "operation_state_valid"),
            models.CheckConstraint(
                condition=(
                    Q(customer_account__isnull=False, source__isnull=True, number__isnull=True)
                    | Q(customer_account__isnull=True, source__isnull=False, number__isnull=True)
                    | Q(customer_account__isnull=True, source__isnull=True, number__isnull=False)
                ),
                name="operation_has_one_object",
            ),
        ]
        indexes = [
            # The sweeper's query: due work that is not finished.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["pending", "running"]),
                name="operation_due_idx",
            ),
            models.Index(fields=["partner", "state", "-created_at"], name="operation_partner_idx"),
            # The dashboard's last 24 hours: without it every view reads the whole journal.
            models.Index(fields=["partner", "-created_at"], name="operation_partner_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.target} ({self.get_state_display()})"

    @property
    def target(self) -> CustomerAccount | Source | Number:
        return self.customer_account or self.source or self.number


class HttpExchange(models.Model):
    """One HTTP request to a provider made by an operation, secrets redacted."""

    operation = models.ForeignKey(SyncOperation, on_delete=models.CASCADE, related_name="exchanges")
    method = models.CharField(max_length=8)
    url = models.TextField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status or self.error}"


class BudgetSpend(models.Model):
    """One request taken from an account's budget (the embedded default's shared log;
    with Redis the log lives there)."""

    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="+"
    )
    spent_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["provider_account", "spent_at"])]

    def __str__(self) -> str:
        return f"{self.provider_account_id} at {self.spent_at}"


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ReconciliationRun(models.Model):
    """One comparison of a provider account's remote state with the portal's."""

    provider_account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="reconciliation_runs"
    )
    dry_run = models.BooleanField(default=False, help_text="A plan: nothing was written.")
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    in_sync = models.PositiveIntegerField(default=0)
    drifted = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    unmanaged = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Remote objects the portal does not manage, as found (capped), for adoption:
    # [{"kind": "customer"|"source"|"number", "remote_id": …, "record": {…}}].
    unmanaged_items = models.JSONField(default=list, blank=True)
    # What a push would do now: {"create": n, "update": n, "delete": n}.
    pending_push = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [choices_constraint("state", RunState, "reconciliation_run_state_valid")]
        indexes = [models.Index(fields=["provider_account", "-created_at"])]

    def __str__(self) -> str:
        kind = "Plan" if self.dry_run else "Reconciliation"
        return f"{kind} of {self.provider_account} at {self.created_at:%Y-%m-%d %H:%M}"


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed on repeats."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", "Customers"
    NUMBERS = "numbers", "Numbers"


class ImportState(models.TextChoices):
    PREVIEW = "preview", "Preview"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class ImportJob(models.Model):
    """A CSV import: validated row by row in a preview, then run with progress."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    state = models.CharField(
        max_length=10, choices=ImportState.choices, default=ImportState.PREVIEW
    )
    filename = models.CharField(max_length=255, blank=True)
    # [{"line": n, "values": {...}, "errors": {field: [...]}}]
    rows = models.JSONField(default=list)
    provider_account_ids = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # [{"line": n, "result": "created"|"failed", "id": …, "message": …}]
    results = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            choices_constraint("kind", ImportKind, "import_kind_valid"),
            choices_constraint("state", ImportState, "import_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.filename} ({self.get_state_display()})"

    @property
    def valid_rows(self) -> list[dict]:
        return [row for row in self.rows if not row["errors"]]

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.failed) / self.total) if self.total else 100
