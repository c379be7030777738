"""Query-parameter filters."""

import django_filters
from django import forms

from common.api.parsers import MAX_JSON_INTEGER


class IdFilter(django_filters.NumberFilter):
    """Filter by an object id; anything but a positive 64-bit integer is a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_JSON_INTEGER)
        super().__init__(*args, **kwargs)
