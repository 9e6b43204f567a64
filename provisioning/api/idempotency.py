"""`Idempotency-Key` on POST: the same key and body get the first answer again;
the same key with another body is refused (422).

The key row is inserted in the same transaction as the write it guards, so a
concurrent request with the same key waits on the unique index and then
replays the committed answer: two concurrent POSTs create one object.
"""

import hashlib
import json
from collections.abc import Callable
from functools import wraps

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from provisioning.api.permissions import partner_of
from provisioning.models import IdempotencyKey

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_key_reused"


class IdempotencyKeyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."
    default_code = "idempotency_key_in_progress"


def _request_hash(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(existing: IdempotencyKey, request_hash: str) -> Response:
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused()
    if existing.response_status is None:
        raise IdempotencyKeyInProgress()
    response = Response(existing.response_body, status=existing.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Make a POST handler honour the `Idempotency-Key` header."""

    @wraps(view)
    def wrapper(self, request: Request, *args, **kwargs) -> Response:
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return view(self, request, *args, **kwargs)
        partner = partner_of(request)
        request_hash = _request_hash(request)
        existing = IdempotencyKey.objects.filter(partner=partner, key=key[:255]).first()
        if existing is not None:
            return _replay(existing, request_hash)
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    partner=partner,
                    key=key[:255],
                    method=request.method,
                    path=request.path[:300],
                    request_hash=request_hash,
                )
                response = view(self, request, *args, **kwargs)
                if response.status_code >= 500:
                    raise _Abandon(response)
                record.response_status = response.status_code
                record.response_body = response.data
                record.save(update_fields=["response_status", "response_body"])
                return response
        except _Abandon as abandon:
            return abandon.response
        except IntegrityError:
            # Another request with this key committed first: answer as it did.
            return _replay(IdempotencyKey.objects.get(partner=partner, key=key[:255]), request_hash)

    return wrapper


class _Abandon(Exception):  # noqa: N818 - control flow, not an error
    """Roll back the key so a failed request can be retried with it."""

    def __init__(self, response: Response) -> None:
        self.response = response
