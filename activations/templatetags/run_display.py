"""Template filters for the run pages: durations, ages and times as a person reads them."""

import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from common import schedules

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


@register.filter
def ago(value: datetime.datetime | None) -> str:
    """`just now`, `5 minutes ago`, `2 days, 3 hours ago`."""
    if value is None:
        return ""
    if timezone.now() - value < datetime.timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"


@register.filter
def in_zone(value: datetime.datetime | None, tz_name: str) -> str:
    """A `<time>` in the activation's time zone with its UTC offset (run pages show the times
    of the schedule, not the browser's); an em dash for no time."""
    if value is None:
        return "—"
    return format_html(
        '<time datetime="{}">{}</time>',
        value.isoformat(),
        schedules.format_in_zone(value, tz_name),
    )
