"""Content negotiation for views that answer in one format only."""

from rest_framework.negotiation import BaseContentNegotiation


class FirstRendererNegotiation(BaseContentNegotiation):
    """Always the view's first renderer: for downloads that are one format whatever the
    client's Accept header says (a browser asks for text/html first)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
