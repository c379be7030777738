"""Request checks every view relies on, done once before any view runs."""

from django.http import HttpResponseBadRequest, JsonResponse

from common.text import text_problem


class RefuseUnstorableQueryMiddleware:
    """A 400 for query parameters no database can compare with (`?q=%00`): list filters and
    lookups pass them to the database, where PostgreSQL refuses NUL with an error (a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            for text in (name, *values):
                problem = text_problem(text)
                if problem:
                    message = f"Query parameter {name!r}: {problem}"
                    if request.path.startswith("/api/"):
                        return JsonResponse({name: [problem]}, status=400)
                    return HttpResponseBadRequest(message, content_type="text/plain")
        return self.get_response(request)
