"""Every API error in one shape: RFC 7807 problem details, with field errors.

{"type": "about:blank", "title": "Bad Request", "status": 400,
 "detail": "Some fields are invalid.", "errors": {"custnr": ["…"]}}
"""

import math
from http import HTTPStatus
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status as http_status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from integrations.errors import IntegrationError, PermanentError, TransientError


class ProviderUnavailable(APIException):
    status_code = http_status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The provider could not be reached; try again later."
    default_code = "provider_unavailable"


class ProviderRefused(APIException):
    status_code = http_status.HTTP_502_BAD_GATEWAY
    default_detail = "The provider refused the request."
    default_code = "provider_refused"


def _provider_problem(exc: IntegrationError) -> APIException:
    """A provider's failure during a request answered at once (number search)."""
    if isinstance(exc, PermanentError) and exc.field_errors:
        # The provider judged the caller's input: its field errors are the caller's to fix.
        return ValidationError(detail=exc.field_errors)
    if isinstance(exc, TransientError):
        problem = ProviderUnavailable(f"The provider did not answer: {exc.message}")
        # DRF's handler turns `wait` into Retry-After, as for its own throttling.
        problem.wait = math.ceil(exc.retry_after) if exc.retry_after else None
        return problem
    # Refused credentials or a request the provider will never accept: nothing the caller
    # can change in this request, so a gateway error rather than a 4xx.
    return ProviderRefused(f"The provider refused the request: {exc.message}")


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        # Raised by the services' model validation: the same field errors as a form's.
        exc = ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, IntegrationError):
        exc = _provider_problem(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if isinstance(exc, ValidationError):
        body["detail"] = "Some fields are invalid."
        data = response.data
        body["errors"] = data if isinstance(data, dict) else {"non_field_errors": data}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        body["detail"] = str(detail) or HTTPStatus(status).description
    response.data = body
    response.content_type = "application/problem+json"
    return response
