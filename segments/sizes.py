"""Audience size over time: a record daily (beat) and at each run, and a mail to the
workspace's owners and editors when the size moves by more than AUDIENCE_DRIFT_SHARE."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from workspaces.models import Membership

from . import audience
from .models import AudienceSize, Segment

logger = logging.getLogger(__name__)
SIZES_CHARTED = 60


def record_size(segment: Segment, *, reason: str, size: int | None = None) -> AudienceSize:
    """Store the segment's audience size now (`size` when the caller counted it, e.g. a
    run's rows read); mails about a drift from the previous record."""
    if size is None:
        size = audience.size(segment)
    previous = segment.sizes.order_by("-measured_at", "-pk").first()
    record = AudienceSize(segment=segment, measured_at=timezone.now(), size=size, reason=reason)
    if previous is not None:
        share = drift_share(previous.size, size)
        if share is not None and abs(share) > settings.AUDIENCE_DRIFT_SHARE:
            record.drift = share
    record.save()
    if record.drift is not None:
        notify_drift(segment, previous, record)
    return record


def drift_share(before: int, after: int) -> float | None:
    """The change as a share of the earlier size (0.25 = grew by a quarter); None from 0."""
    if before == 0:
        return None if after == 0 else float("inf")
    return (after - before) / before


def record_all_sizes() -> int:
    """The daily record of every segment's size; returns how many were recorded."""
    count = 0
    for segment in Segment.objects.select_related("parent_segment", "workspace").iterator():
        try:
            record_size(segment, reason=AudienceSize.Reason.DAILY)
        except Exception:
            # One segment whose rules no longer fit its parent must not stop the others.
            logger.exception("Could not record the audience size of segment %s", segment.pk)
            continue
        count += 1
    return count


def notify_drift(segment: Segment, previous: AudienceSize, record: AudienceSize) -> bool:
    """Mail the workspace's owners and editors; a sending failure is logged, never raised."""
    recipients = list(
        Membership.objects.filter(
            workspace_id=segment.workspace_id, role__in=Membership.WRITE_ROLES
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
        .distinct()
    )
    if not recipients:
        return False
    context = {
        "segment": segment,
        "before": previous.size,
        "after": record.size,
        "percent": "∞" if record.drift == float("inf") else f"{record.drift * 100:+.0f}",
        "threshold": f"{settings.AUDIENCE_DRIFT_SHARE * 100:.0f}",
        "url": f"{settings.SITE_URL}/segments/{segment.pk}/",
    }
    subject = " ".join(render_to_string("emails/audience_drift-subject.txt", context).split())
    text = render_to_string("emails/audience_drift-body.txt", context)
    html = render_to_string("emails/audience_drift-body.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:
        logger.exception("Could not send the audience drift mail for segment %s", segment.pk)
        return False
    return True


def size_history(segment: Segment) -> list[AudienceSize]:
    """The latest SIZES_CHARTED records, oldest first."""
    return list(segment.sizes.order_by("-measured_at", "-pk")[:SIZES_CHARTED])[::-1]
