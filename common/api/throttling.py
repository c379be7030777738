"""Throttles whose counters hold across processes and behind proxies.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] by scope, read at each request (so
tests and reloads can change them). Counters live in Django's default cache (Redis when
REDIS_URL / CACHE_URL is set, the database cache otherwise), so every web process counts
against the same limit; clients are told apart by common.clientip. The same classes guard DRF
views (`throttle_classes`) and plain Django views (`throttle_view`, `throttle_failed_logins`).
"""

import functools
import math

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.template.response import TemplateResponse
from rest_framework import permissions
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from common.clientip import client_ip


class SettingsRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle with the rate read from the current settings and the client's
    address from common.clientip (DRF's own trusts any X-Forwarded-For)."""

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(
                f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] has no rate for scope {self.scope!r}"
            ) from None

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_ident(self, request):
        return client_ip(request)


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


class PerUserThrottle(SettingsRateThrottle):
    """An action limited per signed-in user, whichever process or address it comes from.

    Subclass with a `scope` (and a rate under that scope): ConnectionTestThrottle below; a
    source test is the same two lines.
    """

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": f"user-{request.user.pk}"}


class ConnectionTestThrottle(PerUserThrottle):
    """Connection tests per user (scope "connection_test"): each one is a Salesforce login."""

    scope = "connection_test"


class SourceTestThrottle(PerUserThrottle):
    """Source tests per user (scope "source_test"): each one connects to a customer database."""

    scope = "source_test"


class FailedLoginThrottle(SettingsRateThrottle):
    """Failed sign-ins per client address (scope "login"); successful ones are not counted,
    so people signing in from one office are not locked out by each other."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def blocked(self, request) -> bool:
        """Whether this address already used up its failed attempts (records nothing)."""
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [
            moment for moment in self.cache.get(self.key, []) if moment > self.now - self.duration
        ]
        return len(self.history) >= self.num_requests

    def record_failure(self) -> None:
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


def _too_many(request, wait: float | None, what: str, template: str = "429.html") -> HttpResponse:
    seconds = max(1, math.ceil(wait or 1))
    message = f"Too many {what}. Try again in {seconds} second{'s' if seconds != 1 else ''}."
    context = {"ok": False, "error": message, "what": what, "seconds": seconds}
    response = TemplateResponse(request, template, context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def throttle_view(throttle_class, what: str, template: str = "429.html"):
    """Limit a plain Django view with a DRF throttle class: a 429 with Retry-After, drawn
    with `template` (a page, or the view's own fragment for htmx; context `error`)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            throttle = throttle_class()
            if not throttle.allow_request(request, None):
                return _too_many(request, throttle.wait(), what, template)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def throttle_failed_logins(view):
    """Limit failed sign-ins on a login view (Django's or the admin's): a POST that renders
    the form again (200) failed; a successful one redirects."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        throttle = FailedLoginThrottle()
        if throttle.blocked(request):
            return _too_many(request, throttle.wait(), "failed sign-ins from your address")
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            throttle.record_failure()
        return response

    return wrapper
