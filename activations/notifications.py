"""E-mail about runs: a run finished, an activation was disabled. Counts, errors and links
only: never a credential, never row data."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from common import schedules
from workspaces.models import Membership

from .models import Activation, Run

logger = logging.getLogger(__name__)

# What each `notify_on` choice mails about. "failure" includes partially failed runs: some
# rows did not arrive, which is what a failure mail is for, and skipped slots. Cancelled runs were stopped by a
# person, so only "always" mails about them.
NOTIFY_STATUSES = {
    # A skipped slot did not send what the schedule promised: it is told like a failure.
    Activation.NotifyOn.FAILURE: {
        Run.Status.FAILED,
        Run.Status.PARTIALLY_FAILED,
        Run.Status.SKIPPED,
    },
    Activation.NotifyOn.SUCCESS: {Run.Status.SUCCEEDED},
    Activation.NotifyOn.ALWAYS: {
        Run.Status.SUCCEEDED,
        Run.Status.PARTIALLY_FAILED,
        Run.Status.FAILED,
        Run.Status.CANCELLED,
        Run.Status.SKIPPED,
    },
}


def run_url(run: Run) -> str:
    return f"{settings.SITE_URL}/activations/{run.activation_id}/runs/{run.pk}/"


def activation_url(activation: Activation) -> str:
    return f"{settings.SITE_URL}/activations/{activation.pk}/"


def wants_mail(activation: Activation, run: Run) -> bool:
    """Whether the activation's `notify_on` asks for mail about a run that ended so."""
    return bool(activation.notify_emails) and run.status in NOTIFY_STATUSES.get(
        activation.notify_on, set()
    )


def notify_run_finished(run: Run) -> bool:
    """Mail the activation's recipients about a finished run, if its `notify_on` asks for
    it. Returns True if a mail was sent; a sending failure is logged, never raised."""
    activation = run.activation
    if not wants_mail(activation, run):
        return False
    context = {
        "run": run,
        "activation": activation,
        "segment": activation.segment,
        "connection_name": activation.connection.name,
        "status": Run.Status(run.status).label,
        "trigger": Run.Trigger(run.trigger).label,
        "duration": _duration(run),
        "url": run_url(run),
        # Times as the schedule reads them: the activation's zone, with the UTC offset.
        "slot": _in_zone(run.scheduled_for, activation, seconds=False),
        "started": _in_zone(run.started_at, activation),
        "finished": _in_zone(run.finished_at, activation),
    }
    return _send("run_finished", context, activation.notify_emails)


def _in_zone(moment, activation: Activation, *, seconds: bool = True) -> str:
    if moment is None:
        return ""
    return schedules.format_in_zone(moment, activation.timezone, seconds=seconds)


def notify_activation_disabled(activation: Activation, run: Run) -> bool:
    """Mail the workspace owners and the activation's recipients that repeated configuration
    failures disabled the activation. A sending failure is logged, never raised."""
    owners = (
        Membership.objects.filter(workspace_id=activation.workspace_id, role=Membership.Role.OWNER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    recipients = list(dict.fromkeys([*owners, *activation.notify_emails]))
    if not recipients:
        return False
    context = {
        "run": run,
        "activation": activation,
        "segment": activation.segment,
        "connection_name": activation.connection.name,
        "url": activation_url(activation),
        "run_url": run_url(run),
    }
    return _send("activation_disabled", context, recipients)


def _duration(run: Run) -> str:
    duration = run.duration
    if duration is None:
        return ""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min {seconds} s"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def _send(template: str, context: dict, recipients: list[str]) -> bool:
    subject = render_to_string(f"emails/{template}-subject.txt", context)
    subject = " ".join(subject.split())  # a header must be one line
    text = render_to_string(f"emails/{template}-body.txt", context)
    html = render_to_string(f"emails/{template}-body.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:
        # A mail server being down must not fail or repeat the run it reports on.
        logger.exception("Could not send the %s mail to %d recipients", template, len(recipients))
        return False
    return True
