"""Run mail through a real SMTP server (aiosmtpd on an ephemeral local port): what it says,
who gets it, and what it never contains."""

import email
import email.policy
import socket
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller

from activations import notifications
from activations.models import Activation, FailedRow, Run
from tests.factories import (
    make_activation,
    make_connection,
    make_segment,
    make_user,
    make_workspace,
)

pytestmark = pytest.mark.django_db

SECRETS = ["hunter2", "TOKEN123", "sf-client-secret-value", "5Aep861refresh-token-value"]
APP_SECRETS = {"client_secret": SECRETS[2], "refresh_token": SECRETS[3]}


class Inbox:
    """Collects what the SMTP server received."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        return [
            email.message_from_bytes(envelope.content, policy=email.policy.default)
            for envelope in self.envelopes
        ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "activations@example.com"
    yield inbox
    controller.stop()


def make_finished_run(**activation_fields) -> Run:
    workspace = make_workspace()
    segment = make_segment(workspace=workspace, name="Japan VIP")  # of "Customers"
    # The factory's password and security token are SECRETS' hunter2 and TOKEN123.
    connection = make_connection(
        workspace=workspace, name="Production org", client_id="connected-app-id", **APP_SECRETS
    )
    activation_fields.setdefault("notify_emails", ["ops@example.com", "cto@example.com"])
    activation = make_activation(
        segment=segment, connection=connection, name="VIP to Contacts", **activation_fields
    )
    run = Run.objects.create(
        activation=activation,
        trigger=Run.Trigger.SCHEDULE,
        status=Run.Status.PARTIALLY_FAILED,
        scheduled_for=datetime(2025, 3, 10, 0, 0, tzinfo=UTC),
        started_at=datetime(2025, 3, 10, 0, 0, 5, tzinfo=UTC),
        finished_at=datetime(2025, 3, 10, 0, 2, 17, tzinfo=UTC),
        rows_read=1200,
        rows_sent=1200,
        rows_succeeded=1198,
        rows_failed=2,
        salesforce_job_ids=["7505fEXAMPLE4C2AAM", "7505fEXAMPLE4C2AAN"],
        columns=["Customer_Key__c", "Email"],
        error="",
    )
    FailedRow.objects.create(
        run=run,
        values=["C0042", "private.person@example.org"],
        error="INVALID_EMAIL_ADDRESS:Email: invalid email address:Email --",
    )
    return run


def test_run_mail_names_what_ran_the_counts_and_links_to_the_run(smtp_server):
    run = make_finished_run()

    assert notifications.notify_run_finished(run) is True

    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.mail_from == "activations@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "cto@example.com"]
    message = smtp_server.messages()[0]
    assert message["Subject"] == (
        f"Activation VIP to Contacts: run {run.pk} partially failed (1198 of 1200 rows succeeded)"
    )
    text = message.get_body(preferencelist=("plain",)).get_content()
    for line in [
        'A run of the activation "VIP to Contacts" ended: Partially failed.',
        "Activation:  VIP to Contacts",
        "Segment:     Japan VIP",
        "Connection:  Production org",
        "Object:      Contact (Append (insert))",
        "Trigger:     Schedule (slot 2025-03-10 00:00 UTC (UTC+00:00))",
        "Status:      Partially failed",
        "Started:     2025-03-10 00:00:05 UTC (UTC+00:00)",
        "Finished:    2025-03-10 00:02:17 UTC (UTC+00:00)",
        "Duration:    2 min 12 s",
        "Rows read:       1200",
        "Rows sent:       1200",
        "Rows succeeded:  1198",
        "Rows failed:     2",
        "Salesforce jobs: 7505fEXAMPLE4C2AAM, 7505fEXAMPLE4C2AAN",
        f"See the run: http://testserver/activations/{run.activation_id}/runs/{run.pk}/",
    ]:
        assert line in text.splitlines()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'<a href="http://testserver/activations/{run.activation_id}/runs/{run.pk}/">' in html
    assert "<td>Japan VIP</td>" in html
    assert "<td>Production org</td>" in html


def test_run_mail_never_contains_secrets_or_row_data(smtp_server):
    run = make_finished_run()
    run.error = "Some rows were refused."
    run.save()

    notifications.notify_run_finished(run)

    raw = smtp_server.envelopes[0].content.decode()
    message = smtp_server.messages()[0]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for content in (raw, text, html):
        for secret in SECRETS:
            assert secret not in content
        assert "private.person@example.org" not in content
        assert "C0042" not in content
    assert "Some rows were refused." in text


def test_the_error_is_in_the_mail_and_html_escaped(smtp_server):
    run = make_finished_run()
    run.status = Run.Status.FAILED
    run.error = "INVALIDENTITY: Entity '<Contact>' is not supported by the Bulk API."
    run.save()

    notifications.notify_run_finished(run)

    message = smtp_server.messages()[0]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "INVALIDENTITY: Entity '<Contact>' is not supported by the Bulk API." in text
    assert "Entity &#x27;&lt;Contact&gt;&#x27; is not supported" in html


def test_no_mail_when_notify_on_does_not_ask_for_it(smtp_server):
    run = make_finished_run(notify_on=Activation.NotifyOn.SUCCESS)

    assert notifications.notify_run_finished(run) is False

    assert smtp_server.envelopes == []


def test_disabled_activation_mail_goes_to_owners_and_recipients(smtp_server):
    run = make_finished_run()
    run.status = Run.Status.FAILED
    run.config_error = True
    run.error = "INVALID_LOGIN: Invalid username, password, security token; or user locked out."
    run.save()
    activation = run.activation
    activation.enabled = False
    activation.consecutive_failures = 3
    activation.save()
    make_user("olivia", workspace=activation.workspace, role="owner", email="olivia@example.com")
    make_user("ed", workspace=activation.workspace, role="editor", email="ed@example.com")
    make_user("nomail", workspace=activation.workspace, role="owner", email="")

    assert notifications.notify_activation_disabled(activation, run) is True

    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["olivia@example.com", "ops@example.com", "cto@example.com"]
    message = smtp_server.messages()[0]
    assert message["Subject"] == (
        "Activation VIP to Contacts was disabled after 3 failed scheduled runs"
    )
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "INVALID_LOGIN: Invalid username, password, security token; or user locked out." in text
    assert f"http://testserver/activations/{activation.pk}/" in text
    for secret in SECRETS:
        assert secret not in envelope.content.decode()


def test_a_mail_server_that_is_down_is_logged_and_not_raised(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 2
    run = make_finished_run()

    assert notifications.notify_run_finished(run) is False

    assert "Could not send the run_finished mail to 2 recipients" in caplog.text


@pytest.mark.parametrize(
    ("notify_on", "status", "expected"),
    [
        ("failure", "failed", True),
        ("failure", "partially_failed", True),
        ("failure", "succeeded", False),
        ("failure", "cancelled", False),
        ("success", "succeeded", True),
        ("success", "partially_failed", False),
        ("success", "failed", False),
        ("always", "succeeded", True),
        ("always", "partially_failed", True),
        ("always", "failed", True),
        ("always", "cancelled", True),
        # A skipped slot is told like a failure.
        ("failure", "skipped", True),
        ("success", "skipped", False),
        ("always", "skipped", True),
    ],
)
def test_notify_on_chooses_the_runs_that_are_mailed(notify_on, status, expected):
    activation = Activation(notify_on=notify_on, notify_emails=["ops@example.com"])

    assert notifications.wants_mail(activation, Run(status=status)) is expected


def test_no_recipients_no_mail():
    activation = Activation(notify_on="always", notify_emails=[])

    assert notifications.wants_mail(activation, Run(status="failed")) is False


def test_run_mail_gives_times_in_the_activation_time_zone_with_the_offset(smtp_server):
    run = make_finished_run(timezone="America/New_York")

    assert notifications.notify_run_finished(run) is True

    text = smtp_server.messages()[0].get_body(preferencelist=("plain",)).get_content()
    lines = text.splitlines()
    assert "Trigger:     Schedule (slot 2025-03-09 20:00 EDT (UTC-04:00))" in lines
    assert "Started:     2025-03-09 20:00:05 EDT (UTC-04:00)" in lines
    assert "Finished:    2025-03-09 20:02:17 EDT (UTC-04:00)" in lines
    html = smtp_server.messages()[0].get_body(preferencelist=("html",)).get_content()
    assert "2025-03-09 20:00:05 EDT (UTC-04:00)" in html


def test_a_skipped_slot_is_mailed_like_a_failure_with_its_reason(smtp_server):
    run = make_finished_run(timezone="Australia/Lord_Howe", notify_on="failure")
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.SKIPPED,
        started_at=None,
        rows_read=0,
        error="Skipped: run 7 was still running when this slot was due.",
    )
    run.refresh_from_db()

    assert notifications.notify_run_finished(run) is True

    message = smtp_server.messages()[0]
    assert message["Subject"] == f"Activation VIP to Contacts: run {run.pk} skipped"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert 'A run of the activation "VIP to Contacts" ended: Skipped.' in text
    assert "Skipped: run 7 was still running when this slot was due." in text
    assert "Trigger:     Schedule (slot 2025-03-10 11:00 +11 (UTC+11:00))" in text.splitlines()
