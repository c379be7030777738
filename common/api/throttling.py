"""Throttles whose rates come from REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']."""

from rest_framework import exceptions, permissions
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from the current settings, so tests (and reloads) can change it."""

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise exceptions.ImproperlyConfigured(
                f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] has no rate for scope {self.scope!r}"
            ) from None

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class TokenThrottle(SettingsRateThrottle):
    """Token requests per client address (scope "token"), logged in or not."""

    scope = "token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RunCreateThrottle(SettingsRateThrottle):
    """Run requests per user (scope "run_create"); reading runs is not throttled."""

    scope = "run_create"

    def get_cache_key(self, request, view):
        if request.method in permissions.SAFE_METHODS or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
