"""The Content-Security-Policy header: the UI runs only its own scripts from /static/ (no
inline script, no eval: htmx is configured with allowEval false in base.html), so an
injected <script> or event handler attribute does not run."""

from django.conf import settings

# Swagger UI and Redoc (drf-spectacular) bootstrap with inline scripts and workers: those two
# read-only documentation pages go without the header.
EXEMPT_PREFIXES = ("/api/v1/docs/", "/api/v1/redoc/")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and not request.path.startswith(EXEMPT_PREFIXES):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
