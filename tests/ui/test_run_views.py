"""Run now, enable/disable, run pages and the failed rows download, through the test client."""

import datetime

import pytest
from django.utils import timezone

from activations.models import Activation, FailedRow, Run
from activations.templatetags.run_display import ago, duration
from tests.factories import make_activation, make_connection, output_mapping


def test_run_now_runs_the_activation_and_shows_the_run(
    owner_client, team, salesforce_emulator, django_capture_on_commit_callbacks
):
    activation = make_activation(
        segment=team["segment"],
        connection=make_connection(workspace=team["workspace"], login_url=salesforce_emulator.url),
        name="Japan to Contacts (emulator)",
        output_mapping=output_mapping(
            ("email", "Email"), ("last_name", "LastName"), strings=[], export_all_columns=False
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/activations/{activation.pk}/run/")
    run = Run.objects.get(activation=activation)
    assert response["Location"] == f"/activations/{activation.pk}/runs/{run.pk}/"
    assert (run.trigger, run.requested_by, run.status) == ("manual", team["owner"], "succeeded")
    assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (2, 2, 0)
    assert sorted(c["Email"] for c in salesforce_emulator.records("Contact")) == [
        "aiko@example.jp",
        "kenji@example.jp",
    ]
    page = owner_client.get(response["Location"]).content.decode()
    assert 'id="run-status">Succeeded<' in page
    assert 'id="rows-succeeded">2<' in page


def test_run_now_while_a_run_is_active_shows_that_run(owner_client, team):
    activation = team["activation"]
    active = Run.objects.create(activation=activation, status=Run.Status.RUNNING)
    response = owner_client.post(f"/activations/{activation.pk}/run/", follow=True)
    assert response.redirect_chain == [(f"/activations/{activation.pk}/runs/{active.pk}/", 302)]
    assert "already has a run in progress" in response.content.decode()
    assert Run.objects.filter(activation=activation).count() == 1


def test_disable_and_enable(owner_client, team):
    activation = team["activation"]
    owner_client.post(f"/activations/{activation.pk}/enabled/", {"enabled": "false"})
    activation.refresh_from_db()
    assert activation.enabled is False
    owner_client.post(f"/activations/{activation.pk}/enabled/", {"enabled": "true"})
    activation.refresh_from_db()
    assert activation.enabled is True


def test_failed_rows_download_has_the_run_columns_and_salesforce_errors(owner_client, team):
    activation = team["activation"]
    run = Run.objects.create(
        activation=activation,
        status=Run.Status.PARTIALLY_FAILED,
        rows_read=2,
        rows_failed=2,
        columns=["Email", "LastName"],
    )
    FailedRow.objects.create(run=run, values=["bad@", "Sato"], error="INVALID_EMAIL_ADDRESS:Email")
    FailedRow.objects.create(run=run, values=["x@example.com", ""], error="REQUIRED_FIELD_MISSING")
    page = owner_client.get(f"/activations/{activation.pk}/runs/{run.pk}/").content.decode()
    assert "INVALID_EMAIL_ADDRESS:Email" in page
    response = owner_client.get(f"/activations/{activation.pk}/runs/{run.pk}/failed-rows.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="run-{run.pk}-failed-rows.csv"'
    assert b"".join(response.streaming_content).decode() == (
        "Email,LastName,sf__Error\n"
        "bad@,Sato,INVALID_EMAIL_ADDRESS:Email\n"
        "x@example.com,,REQUIRED_FIELD_MISSING\n"
    )


def test_run_of_another_activation_is_not_found(owner_client, team):
    other = make_activation(segment=team["segment"], connection=team["connection"], name="Other")
    run = Run.objects.create(activation=other)
    url = f"/activations/{team['activation'].pk}/runs/{run.pk}/"
    assert owner_client.get(url).status_code == 404


def test_cancel_a_queued_run(owner_client, team):
    activation = team["activation"]
    run = Run.objects.create(activation=activation, status=Run.Status.QUEUED)
    owner_client.post(f"/activations/{activation.pk}/runs/{run.pk}/cancel/")
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_delete_activation_returns_to_its_segment(owner_client, team):
    activation = team["activation"]
    response = owner_client.post(f"/activations/{activation.pk}/delete/")
    assert response["Location"] == f"/segments/{team['segment'].pk}/"
    assert not Activation.objects.filter(pk=activation.pk).exists()


def test_delete_activation_asks_first(owner_client, team):
    activation = team["activation"]
    page = owner_client.get(f"/activations/{activation.pk}/delete/").content.decode()
    assert "Delete the activation “Japan to Contacts”?" in page
    assert "Records already sent to Salesforce stay there." in page
    assert Activation.objects.filter(pk=activation.pk).exists()


def test_run_page_gives_times_in_the_activation_time_zone(owner_client, team):
    started = datetime.datetime(2024, 5, 1, 9, 30, 5, tzinfo=datetime.UTC)
    run = Run.objects.create(
        activation=team["activation"],
        status=Run.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + datetime.timedelta(seconds=135),
        log=[{"at": "2024-05-01T09:30:05+00:00", "message": "Started."}],
    )
    page = owner_client.get(f"/activations/{team['activation'].pk}/runs/{run.pk}/").content
    page = page.decode()
    # The run's times as its schedule reads them (the activation's zone, here UTC), with
    # the offset; the log lines stay UTC for the browser to localise.
    assert (
        '<time datetime="2024-05-01T09:30:05+00:00">2024-05-01 09:30:05 UTC (UTC+00:00)</time>'
    ) in page
    assert '<time datetime="2024-05-01T09:30:05+00:00" data-local="time">09:30:05</time>' in page
    assert "<dd>2 min 15 s</dd>" in page


def test_run_page_shows_the_progress_of_a_running_run(owner_client, team):
    run = Run.objects.create(
        activation=team["activation"],
        status=Run.Status.RUNNING,
        rows_read=2000,
        rows_sent=2000,
        rows_succeeded=1200,
        rows_failed=300,
    )
    page = owner_client.get(f"/activations/{team['activation'].pk}/runs/{run.pk}/").content
    page = page.decode()
    assert '<progress id="run-progress-bar" max="100" value="75">75%</progress>' in page
    assert '<span class="stat-value" id="rows-read">2,000</span>' in page


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3.84, "3.8 s"), (59.9, "59.9 s"), (125, "2 min 05 s"), (3720, "1 h 02 min")],
)
def test_durations_read_naturally(seconds, text):
    assert duration(datetime.timedelta(seconds=seconds)) == text
    assert duration(None) == "—"


def test_ages_read_naturally():
    now = timezone.now()
    assert ago(now - datetime.timedelta(seconds=20)) == "just now"
    assert ago(now - datetime.timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"
    assert ago(None) == ""


def test_activation_list_shows_schedule_next_run_and_last_run(owner_client, team):
    activation = team["activation"]
    activation.schedule_type = "daily"
    activation.timezone = "Asia/Tokyo"
    activation.save()
    paused = make_activation(
        segment=team["segment"],
        connection=team["connection"],
        name="Paused daily",
        schedule_type="daily",
        enabled=False,
    )
    Run.objects.create(activation=activation, status=Run.Status.FAILED)
    response = owner_client.get("/activations/")
    rows = {row["activation"].name: row for row in response.context["rows"]}
    next_run = rows["Japan to Contacts"]["next_run"]
    assert (next_run.hour, next_run.minute, str(next_run.tzinfo)) == (0, 0, "Asia/Tokyo")
    assert rows["Japan to Contacts"]["last_run"].status == "failed"
    assert rows[paused.name]["next_run"] is None
    page = response.content.decode()
    assert "paused while disabled" in page
    assert "never run" in page


def test_activation_list_and_segment_page_show_each_activations_latest_run(owner_client, team):
    activation = team["activation"]
    other = make_activation(segment=team["segment"], connection=team["connection"], name="Other")
    earlier = timezone.now() - datetime.timedelta(hours=2)
    newest = Run.objects.create(activation=activation, status=Run.Status.SUCCEEDED)
    for status in (Run.Status.FAILED, Run.Status.CANCELLED):
        run = Run.objects.create(activation=activation, status=status)
        Run.objects.filter(pk=run.pk).update(queued_at=earlier)
    other_run = Run.objects.create(activation=other, status=Run.Status.FAILED)

    rows = owner_client.get("/activations/").context["rows"]
    latest = {row["activation"].pk: row["last_run"] for row in rows}
    shown = owner_client.get(f"/segments/{team['segment'].pk}/").context["activations"]

    assert latest == {activation.pk: newest, other.pk: other_run}
    assert {shown_activation.pk: shown_activation.last_run for shown_activation in shown} == {
        activation.pk: newest,
        other.pk: other_run,
    }


def test_activation_list_search(owner_client, team):
    make_activation(segment=team["segment"], connection=team["connection"], name="Leads push")
    names = [
        row["activation"].name
        for row in owner_client.get("/activations/", {"q": "lead"}).context["rows"]
    ]
    assert names == ["Leads push"]
    by_connection = owner_client.get("/activations/", {"q": "production"}).context["rows"]
    assert [row["activation"].name for row in by_connection] == ["Japan to Contacts", "Leads push"]


def test_run_page_offers_a_new_run_to_editors_only(owner_client, viewer_client, team):
    activation = team["activation"]
    run = Run.objects.create(activation=activation, status=Run.Status.FAILED)
    url = f"/activations/{activation.pk}/runs/{run.pk}/"
    run_again = f'action="/activations/{activation.pk}/run/"'
    assert run_again in owner_client.get(url).content.decode()
    assert run_again not in viewer_client.get(url).content.decode()


def test_failed_rows_download_is_not_found_outside_the_workspace(
    owner_client, viewer_client, outsider_client, team
):
    activation = team["activation"]
    run = Run.objects.create(activation=activation, columns=["Email"])
    FailedRow.objects.create(run=run, values=["secret@example.com"], error="INVALID_EMAIL_ADDRESS")
    url = f"/activations/{activation.pk}/runs/{run.pk}/failed-rows.csv"

    assert outsider_client.get(url).status_code == 404
    assert viewer_client.get(url).status_code == 200
    mine = make_activation(
        segment=team["segment"], connection=team["connection"], name="Another activation"
    )
    # The run id with another activation's id in the path is not found either.
    assert (
        owner_client.get(f"/activations/{mine.pk}/runs/{run.pk}/failed-rows.csv").status_code == 404
    )


def test_run_pages_show_times_in_the_activation_time_zone_and_skipped_slots(owner_client, team):
    activation = team["activation"]
    Activation.objects.filter(pk=activation.pk).update(timezone="Asia/Tokyo")

    def march_10(hour, minute=0, second=0):
        return datetime.datetime(2025, 3, 10, hour, minute, second, tzinfo=datetime.UTC)

    def slot(hour, status, **fields):
        return Run.objects.create(
            activation=activation,
            trigger=Run.Trigger.SCHEDULE,
            status=status,
            scheduled_for=march_10(hour),
            **fields,
        )

    done = slot(9, Run.Status.RUNNING, started_at=march_10(9, 0, 4))
    skipped = slot(
        10,
        Run.Status.SKIPPED,
        finished_at=march_10(10, 0, 1),
        error=f"Skipped: run {done.pk} was still running when this slot was due.",
    )

    history = owner_client.get(f"/activations/{activation.pk}/").content.decode()
    assert "2025-03-10 18:00:04 JST (UTC+09:00)" in history  # the running run's start
    assert "badge-skipped" in history
    assert "2025-03-10 19:00:00 JST (UTC+09:00)" in history  # the skipped slot
    assert f"Skipped: run {done.pk} was still running when this slot was due." in history

    page = owner_client.get(f"/activations/{activation.pk}/runs/{skipped.pk}/").content.decode()
    assert 'id="run-status">Skipped<' in page
    assert "2025-03-10 19:00:00 JST (UTC+09:00)" in page  # the slot
    assert "2025-03-10 19:00:01 JST (UTC+09:00)" in page  # finished
    assert "was still running when this slot was due" in page
