"""Every API error in one shape: RFC 7807 problem details, with field errors.

{"type": "about:blank", "title": "Bad Request", "status": 400,
 "detail": "Some fields are invalid.", "errors": {"custnr": ["…"]}}
"""

from http import HTTPStatus
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        # Raised by the services' model validation: the same field errors as a form's.
        exc = ValidationError(detail=as_serializer_error(exc))
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
