"""API views: parse, call one service or selector, answer. Every queryset comes
from a selector scoped to the caller's partner, so another partner's ids are 404."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from provisioning import selectors, services
from provisioning.api import serializers as api
from provisioning.api.filters import CustomerFilter, NumberFilter, SourceFilter, SyncOperationFilter
from provisioning.api.idempotency import idempotent
from provisioning.api.permissions import partner_of
from provisioning.models import (
    OPEN_OPERATION_STATES,
    Partner,
    ProviderAccount,
    SyncOperation,
)

BULK_LIMIT = 100

PROBLEM = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="Problem details (RFC 7807); validation errors carry `errors` by field.",
)
ERRORS = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 429: PROBLEM}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat a POST safely: the same key and body return the first answer.",
)


class BulkRequestSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.DictField(),
        max_length=BULK_LIMIT,
        min_length=1,
        help_text=f"Up to {BULK_LIMIT} objects; an item with `id` updates, one without creates.",
    )


BULK_ITEM_ID = serializers.IntegerField(min_value=1)


class BulkItemResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created = serializers.BooleanField()
    operations = serializers.ListField(child=serializers.IntegerField())


class BulkResponseSerializer(serializers.Serializer):
    items = BulkItemResultSerializer(many=True)


def _user(request: Request) -> Any:
    return request.user if request.user.is_authenticated else None


class PartnerViewSet(viewsets.GenericViewSet):
    """The caller's partner, and serializers that know it."""

    def partner(self) -> Partner:
        return partner_of(self.request)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "partner": partner_of(self.request)}

    def operations_of(self, obj: Any) -> list[int]:
        return list(
            obj.operations.filter(state__in=OPEN_OPERATION_STATES).values_list("id", flat=True)
        )


class SyncedResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerViewSet):
    """Create, update and delete through the services; answer 202 when a push is queued."""

    update_serializer_class: type[serializers.Serializer]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action in ("update", "partial_update"):
            return self.update_serializer_class
        return self.serializer_class

    def perform_service_create(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def perform_service_delete(self, instance: Any) -> None:
        raise NotImplementedError

    def answer(self, instance: Any, status_code: int) -> Response:
        instance = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(instance).data, status=status_code)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_service_create(dict(serializer.validated_data))
        queued = bool(self.operations_of_created(instance))
        return self.answer(
            instance, status.HTTP_202_ACCEPTED if queued else status.HTTP_201_CREATED
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_service_update(instance, dict(serializer.validated_data))
        return self.answer(instance, status.HTTP_202_ACCEPTED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        self.perform_service_delete(instance)
        return Response(status=status.HTTP_202_ACCEPTED)

    def operations_of_created(self, instance: Any) -> list[int]:
        return self.operations_of(instance)

    @extend_schema(request=BulkRequestSerializer, responses={202: BulkResponseSerializer, **ERRORS})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Create or update many objects at once, all or nothing."""
        envelope = BulkRequestSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        items = envelope.validated_data["items"]
        validated, errors = [], {}
        # The items are free-form objects: an `id` may be anything JSON holds, and only
        # an integer names an object (not even `true`, which Python would take for 1).
        ids: dict[int, int] = {}
        id_errors: dict[int, list[str]] = {}
        for index, item in enumerate(items):
            if "id" in item:
                try:
                    ids[index] = BULK_ITEM_ID.run_validation(item["id"])
                except ApiValidationError as error:
                    id_errors[index] = error.detail
        existing = {obj.pk: obj for obj in self.get_queryset().filter(pk__in=ids.values())}
        for index, item in enumerate(items):
            if index in id_errors:
                errors[str(index)] = {"id": id_errors[index]}
                continue
            instance = existing.get(ids[index]) if index in ids else None
            if index in ids and instance is None:
                errors[str(index)] = {"id": ["Not found."]}
                continue
            serializer_class = (
                self.update_serializer_class if instance is not None else self.serializer_class
            )
            serializer = serializer_class(
                instance,
                data=item,
                partial=instance is not None,
                context=self.get_serializer_context(),
            )
            if serializer.is_valid():
                validated.append((instance, dict(serializer.validated_data)))
            else:
                errors[str(index)] = serializer.errors
        if errors:
            raise ApiValidationError({"items": errors})
        results = []
        with transaction.atomic():
            for index, (instance, data) in enumerate(validated):
                try:
                    if instance is None:
                        obj = self.perform_service_create(data)
                    else:
                        obj = self.perform_service_update(instance, data)
                except DjangoValidationError as error:
                    raise ApiValidationError(
                        {"items": {str(index): as_serializer_error(error)}}
                    ) from None
                results.append(
                    {
                        "id": obj.pk,
                        "created": instance is None,
                        "operations": self.operations_of_created(obj),
                    }
                )
        return Response({"items": results}, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(responses={200: api.CustomerSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: api.CustomerSerializer, **ERRORS}),
    create=extend_schema(
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: api.CustomerSerializer,
            202: api.CustomerSerializer,
            422: PROBLEM,
            **ERRORS,
        },
    ),
    update=extend_schema(responses={202: api.CustomerSerializer, **ERRORS}),
    partial_update=extend_schema(responses={202: api.CustomerSerializer, **ERRORS}),
    destroy=extend_schema(responses={202: None, **ERRORS}),
)
class CustomerViewSet(SyncedResourceViewSet):
    """The partner's customers, each with its accounts at the providers."""

    serializer_class = api.CustomerSerializer
    update_serializer_class = api.CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ["name", "custnr", "email"]
    ordering_fields = ["name", "custnr", "created_at", "updated_at"]

    def get_queryset(self):
        return selectors.customer_list(partner=self.partner())

    def perform_service_create(self, data: dict[str, Any]) -> Any:
        provider_accounts = data.pop("provider_accounts", [])
        return services.customer_create(
            partner=self.partner(),
            provider_accounts=provider_accounts,
            requested_by=_user(self.request),
            **data,
        )

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        for provider_account in data.pop("provider_accounts", []):
            if not instance.accounts.filter(provider_account=provider_account).exists():
                services.customer_account_create(
                    customer=instance,
                    provider_account=provider_account,
                    requested_by=_user(self.request),
                )
        return services.customer_update(customer=instance, requested_by=_user(self.request), **data)

    def perform_service_delete(self, instance: Any) -> None:
        services.customer_delete(customer=instance, requested_by=_user(self.request))

    def operations_of_created(self, instance: Any) -> list[int]:
        return list(
            SyncOperation.objects.filter(
                customer_account__customer=instance,
                state__in=OPEN_OPERATION_STATES,
            ).values_list("id", flat=True)
        )


@extend_schema_view(
    list=extend_schema(responses={200: api.SourceSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: api.SourceSerializer, **ERRORS}),
    create=extend_schema(
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: api.SourceSerializer, 422: PROBLEM, **ERRORS},
    ),
    update=extend_schema(responses={202: api.SourceSerializer, **ERRORS}),
    partial_update=extend_schema(responses={202: api.SourceSerializer, **ERRORS}),
    destroy=extend_schema(responses={202: None, **ERRORS}),
)
class SourceViewSet(SyncedResourceViewSet):
    """Freespee sources: tracking numbers ordered for a customer's campaign."""

    serializer_class = api.SourceSerializer
    update_serializer_class = api.SourceUpdateSerializer
    filterset_class = SourceFilter
    search_fields = ["name", "media", "phonenr", "destnr", "customer__name", "customer__custnr"]
    ordering_fields = ["id", "name", "created_at", "updated_at"]

    def get_queryset(self):
        return selectors.source_list(partner=self.partner())

    def perform_service_create(self, data: dict[str, Any]) -> Any:
        return services.source_create(requested_by=_user(self.request), **data)

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        return services.source_update(source=instance, requested_by=_user(self.request), **data)

    def perform_service_delete(self, instance: Any) -> None:
        services.source_delete(source=instance, requested_by=_user(self.request))


@extend_schema_view(
    list=extend_schema(responses={200: api.NumberSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: api.NumberSerializer, **ERRORS}),
    create=extend_schema(
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: api.NumberSerializer, 422: PROBLEM, **ERRORS},
        description="Provision (purchase) a number onto a customer's account.",
    ),
    update=extend_schema(responses={202: api.NumberSerializer, **ERRORS}),
    partial_update=extend_schema(responses={202: api.NumberSerializer, **ERRORS}),
    destroy=extend_schema(responses={202: None, **ERRORS}),
)
class NumberViewSet(SyncedResourceViewSet):
    """Numbers on customers' accounts: SureVoIP DDIs and sipgate numbers."""

    serializer_class = api.NumberSerializer
    update_serializer_class = api.NumberUpdateSerializer
    filterset_class = NumberFilter
    search_fields = ["e164", "destination", "customer__name", "customer__custnr"]
    ordering_fields = ["e164", "created_at", "updated_at"]

    def get_queryset(self):
        return selectors.number_list(partner=self.partner())

    def perform_service_create(self, data: dict[str, Any]) -> Any:
        return services.number_create(requested_by=_user(self.request), **data)

    def perform_service_update(self, instance: Any, data: dict[str, Any]) -> Any:
        return services.number_update(number=instance, requested_by=_user(self.request), **data)

    def perform_service_delete(self, instance: Any) -> None:
        services.number_delete(number=instance, requested_by=_user(self.request))


@extend_schema_view(
    list=extend_schema(responses={200: api.ProviderAccountSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: api.ProviderAccountSerializer, **ERRORS}),
    create=extend_schema(
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: api.ProviderAccountSerializer, 422: PROBLEM, **ERRORS},
    ),
    update=extend_schema(responses={200: api.ProviderAccountSerializer, **ERRORS}),
    partial_update=extend_schema(responses={200: api.ProviderAccountSerializer, **ERRORS}),
)
class ProviderAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerViewSet):
    """The partner's accounts at the providers; the secret is write-only."""

    serializer_class = api.ProviderAccountSerializer
    filterset_fields = ["kind", "paused"]
    ordering_fields = ["name", "kind"]
    search_fields = ["name", "username"]

    def get_queryset(self):
        return selectors.provider_account_list(partner=self.partner())

    @idempotent
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        secret = data.pop("secret", None)
        account = services.provider_account_save(
            provider_account=ProviderAccount(partner=self.partner()), secret=secret, **data
        )
        return Response(self.get_serializer(account).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        account = self.get_object()
        serializer = self.get_serializer(account, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        secret = data.pop("secret", None)
        account = services.provider_account_save(provider_account=account, secret=secret, **data)
        return Response(self.get_serializer(account).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(
        request=api.ReconcileRequestSerializer,
        responses={202: api.ReconciliationRunSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reconcile(self, request: Request, pk: str | None = None) -> Response:
        """Queue a reconciliation (or, with `dry_run`, a plan) of this account."""
        account = self.get_object()
        serializer = api.ReconcileRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services.reconciliation_request(
            provider_account=account,
            dry_run=serializer.validated_data["dry_run"],
            requested_by=_user(request),
        )
        return Response(api.ReconciliationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(responses={200: api.SyncOperationSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: api.SyncOperationDetailSerializer, **ERRORS}),
)
class SyncOperationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerViewSet):
    """The journal of pushes to the providers, with each HTTP exchange (secrets redacted)."""

    filterset_class = SyncOperationFilter
    ordering_fields = ["id", "created_at"]

    def get_queryset(self):
        queryset = selectors.operation_list(partner=self.partner())
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("exchanges")
        return queryset

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action == "retrieve":
            return api.SyncOperationDetailSerializer
        return api.SyncOperationSerializer

    @extend_schema(request=None, responses={202: api.SyncOperationSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Try a failed operation again."""
        operation = services.operation_retry(
            operation=self.get_object(), requested_by=_user(request)
        )
        operation = self.get_queryset().get(pk=operation.pk)
        return Response(
            api.SyncOperationSerializer(operation).data, status=status.HTTP_202_ACCEPTED
        )


class NumberSearchView(APIView):
    """Available SureVoIP numbers, searched through the partner's SureVoIP account."""

    @extend_schema(
        parameters=[api.NumberSearchSerializer],
        responses={
            200: api.AvailableNumberSerializer(many=True),
            **ERRORS,
            502: PROBLEM,
            503: PROBLEM,
        },
    )
    def get(self, request: Request) -> Response:
        query = api.NumberSearchSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        accounts = selectors.surevoip_accounts(partner=partner_of(request))
        if "provider_account" in data:
            accounts = accounts.filter(pk=data.pop("provider_account"))
        account = accounts.first()
        if account is None:
            raise NotFound("No SureVoIP account to search with.")
        numbers = services.number_search(provider_account=account, **data)
        return Response(api.AvailableNumberSerializer(numbers, many=True).data)
