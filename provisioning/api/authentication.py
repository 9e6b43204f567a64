"""API key authentication: `Authorization: Bearer <key>`."""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from provisioning import selectors, services
from provisioning.models import ApiKey


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates a reseller's system by its partner's API key (`request.auth`)."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Send the key as `Authorization: Bearer <key>`.")
        api_key = selectors.api_key_get_active(key=header[1].decode(errors="replace"))
        if api_key is None:
            raise AuthenticationFailed("Unknown or revoked API key.")
        services.api_key_touch(api_key=api_key)
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes the API key in the OpenAPI schema."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A partner's API key: `Authorization: Bearer <key>`.",
        }
