"""Template filters for the run pages: a run's duration as a person reads it."""

import datetime

from django import template

register = template.Library()


@register.filter
def duration(value: datetime.timedelta | None) -> str:
    """`3.8 s`, `2 min 05 s`, `1 h 02 min`; an em dash for a run that has not finished."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
