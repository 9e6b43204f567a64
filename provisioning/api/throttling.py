from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from provisioning.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """One request budget per API key (per user for staff sessions), kept in the shared cache."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
