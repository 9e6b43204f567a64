"""Shapes of the API's resources. Serializers validate and shape; the views
hand validated data to the services, which do every write."""

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from provisioning.models import (
    CUSTOMER_FIELDS,
    Customer,
    CustomerAccount,
    HttpExchange,
    Number,
    ProviderAccount,
    ReconciliationRun,
    Source,
    SourceStatus,
    SyncOperation,
)

SYNC_FIELDS = [
    "sync_state",
    "sync_error",
    "sync_error_field",
    "remote_id",
    "last_synced_at",
    "drift",
]


class PartnerScopedSerializer(serializers.ModelSerializer):
    """Limits every related-object choice to the caller's partner."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        partner = self.context.get("partner")
        for name in ("customer", "provider_account", "provider_accounts"):
            field = self.fields.get(name)
            if field is None or field.read_only:
                continue
            related = getattr(field, "child_relation", field)
            model = related.queryset.model
            queryset = model.objects.filter(partner=partner)
            if model is Customer:
                queryset = queryset.filter(deleted_at__isnull=True)
            related.queryset = queryset


# A customer's email may be blank, which a plain `format: email` in the schema refuses.
@extend_schema_field(
    {
        "anyOf": [
            {
                "type": "string",
                "format": "email",
                "maxLength": Customer._meta.get_field("email").max_length,
            },
            {"type": "string", "maxLength": 0},
        ]
    }
)
class CustomerEmailField(serializers.EmailField):
    """An email address, or blank."""


class CustomerAccountSerializer(serializers.ModelSerializer):
    provider = serializers.CharField(source="provider_account.kind", read_only=True)

    class Meta:
        model = CustomerAccount
        fields = ["id", "provider_account", "provider", *SYNC_FIELDS]
        read_only_fields = fields


class CustomerSerializer(PartnerScopedSerializer):
    serializer_field_mapping = {
        **PartnerScopedSerializer.serializer_field_mapping,
        models.EmailField: CustomerEmailField,
    }
    accounts = CustomerAccountSerializer(many=True, read_only=True)
    provider_accounts = serializers.PrimaryKeyRelatedField(
        many=True,
        write_only=True,
        required=False,
        queryset=ProviderAccount.objects.none(),
        help_text="On create: the provider accounts to create the customer at.",
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            *CUSTOMER_FIELDS,
            "accounts",
            "provider_accounts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is checked by the model (per partner), with a field-level message.
        validators = []

    def validate_country(self, value: str) -> str:
        # The model upper-cases the code after checking its length, and some letters grow
        # when upper-cased ("ß" is "SS"), past the column's width. ISO 3166 codes are ASCII.
        if not value.isascii():
            raise serializers.ValidationError("Give an ISO 3166 alpha-3 code, e.g. GBR.")
        return value


class SourceSerializer(PartnerScopedSerializer):
    # Declared because a read-only model field loses `allow_blank`, and a source
    # has no status until Freespee has answered.
    status = serializers.ChoiceField(
        choices=SourceStatus.choices,
        allow_blank=True,
        read_only=True,
        help_text="Freespee's status of the source; blank until it has been created there.",
    )

    class Meta:
        model = Source
        fields = [
            "id",
            "customer",
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
            "destnr",
            "status",
            *SYNC_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "destnr", "status", *SYNC_FIELDS, "created_at", "updated_at"]
        validators = []


class SourceUpdateSerializer(SourceSerializer):
    class Meta(SourceSerializer.Meta):
        read_only_fields = [*SourceSerializer.Meta.read_only_fields, "customer", "provider_account"]


class NumberSerializer(PartnerScopedSerializer):
    class Meta:
        model = Number
        fields = [
            "id",
            "customer",
            "provider_account",
            "e164",
            "destination",
            "activated",
            "ported",
            "extension",
            "outgoing",
            "dnd",
            *SYNC_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", *SYNC_FIELDS, "created_at", "updated_at"]
        validators = []


class NumberUpdateSerializer(NumberSerializer):
    class Meta(NumberSerializer.Meta):
        read_only_fields = [
            *NumberSerializer.Meta.read_only_fields,
            "customer",
            "provider_account",
            "e164",
        ]


class ProviderAccountSerializer(PartnerScopedSerializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Write-only: never returned. Required on create.",
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            "kind",
            "name",
            "base_url",
            "api_version",
            "username",
            "secret",
            "surevoip_partner_name",
            "customer",
            "request_budget",
            "request_budget_window",
            "paused",
            "paused_reason",
            "last_ping_at",
            "last_ping_ms",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "paused",
            "paused_reason",
            "last_ping_at",
            "last_ping_ms",
            "last_error",
            "created_at",
            "updated_at",
        ]
        validators = []


class HttpExchangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = HttpExchange
        fields = [
            "method",
            "url",
            "status",
            "duration_ms",
            "request_body",
            "response_body",
            "error",
            "created_at",
        ]
        read_only_fields = fields


class SyncOperationSerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()
    object_id = serializers.SerializerMethodField()
    provider = serializers.CharField(source="provider_account.kind", read_only=True)

    class Meta:
        model = SyncOperation
        fields = [
            "id",
            "action",
            "state",
            "object_type",
            "object_id",
            "provider_account",
            "provider",
            "attempts",
            "next_attempt_at",
            "error",
            "error_field",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_object_type(self, operation: SyncOperation) -> str:
        return type(operation.target).__name__.lower()

    def get_object_id(self, operation: SyncOperation) -> int:
        return operation.target.pk


class SyncOperationDetailSerializer(SyncOperationSerializer):
    exchanges = HttpExchangeSerializer(many=True, read_only=True)

    class Meta(SyncOperationSerializer.Meta):
        fields = [*SyncOperationSerializer.Meta.fields, "exchanges"]
        read_only_fields = fields


class ReconciliationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "provider_account",
            "dry_run",
            "state",
            "started_at",
            "finished_at",
            "pages",
            "requests",
            "in_sync",
            "drifted",
            "missing",
            "unmanaged",
            "errors",
            "error",
            "pending_push",
        ]
        read_only_fields = fields


class ReconcileRequestSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(
        default=False, help_text="Plan only: list and compare, write nothing."
    )


class NumberSearchSerializer(serializers.Serializer):
    areacode = serializers.RegexField(
        r"^[0-9]{1,8}$", required=False, help_text="UK area code digits, e.g. 1224."
    )
    area_name = serializers.RegexField(
        r"^[A-Za-z][A-Za-z .'-]{0,39}$",
        required=False,
        help_text="A place name, e.g. Aberdeen (looked up as area codes).",
    )
    number_filter = serializers.RegexField(
        r"^[0-9A-Za-z]{1,20}$",
        required=False,
        help_text="Digits or vanity letters (ABC = 2 …).",
    )
    number_range = serializers.RegexField(
        r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$",
        max_length=60,
        required=False,
        help_text="Ranges and values, e.g. 1000-1999,3000.",
    )
    provider_account = serializers.IntegerField(
        required=False, help_text="The SureVoIP account to search with (default: the first)."
    )


class AvailableNumberSerializer(serializers.Serializer):
    e164 = serializers.CharField()
    areacode = serializers.CharField(allow_blank=True)
    area = serializers.CharField(allow_blank=True)
