"""Audience size over time: daily and per-run records, the drift mail, the segment chart."""

import io

import pytest
import time_machine
from django.core import mail

from segments import services, sizes
from segments.models import AudienceSize
from segments.tasks import record_audience_sizes
from tests.factories import IN_JAPAN, make_parent_segment, make_segment, make_user, make_workspace

CSV = "customer_id,email,first_name,last_name,country,age,lifetime_value,consent,signup_date,last_seen_at\n"


def load(parent, countries):
    rows = "".join(
        f"C{n:03d},c{n}@example.com,A,B,{country},30,1,true,2024-01-01,\n"
        for n, country in enumerate(countries)
    )
    result = services.import_profiles_file(
        parent_segment=parent, file=io.BytesIO((CSV + rows).encode())
    )
    assert result.errors == []


@pytest.fixture
def japan(db):
    workspace = make_workspace("Acme")
    make_user("olivia", workspace=workspace, role="owner", email="olivia@example.com")
    make_user("eddie", workspace=workspace, role="editor", email="eddie@example.com")
    make_user("vera", workspace=workspace, role="viewer", email="vera@example.com")
    parent = make_parent_segment(workspace=workspace)
    load(parent, ["JP"] * 10 + ["US"] * 5)
    return make_segment(
        parent=parent,
        name="Japan",
        rules=IN_JAPAN,
    )


def test_the_daily_task_records_every_segments_size(japan):
    everyone = make_segment(parent=japan.parent_segment, name="Everyone")

    assert record_audience_sizes() == 2

    assert {(r.segment.name, r.size, r.reason) for r in AudienceSize.objects.all()} == {
        ("Japan", 10, "daily"),
        ("Everyone", 15, "daily"),
    }
    assert everyone.sizes.get().drift is None
    assert mail.outbox == []


def test_a_move_beyond_the_share_is_marked_and_mailed_to_owners_and_editors(japan, settings):
    settings.AUDIENCE_DRIFT_SHARE = 0.2
    with time_machine.travel("2026-12-01T03:15:00Z"):
        sizes.record_size(japan, reason="daily")
    with time_machine.travel("2026-12-02T03:15:00Z"):
        small = sizes.record_size(japan, reason="run", size=11)  # +10%: no mail
    load(japan.parent_segment, ["JP"] * 14 + ["US"])
    with time_machine.travel("2026-12-03T03:15:00Z"):
        big = sizes.record_size(japan, reason="daily")

    assert (small.drift, big.size, round(big.drift, 4)) == (None, 14, 0.2727)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["eddie@example.com", "olivia@example.com"]
    assert message.subject == "Segment Japan: the audience moved +27% (11 → 14)"
    assert f"/segments/{japan.pk}/" in message.body
    assert [r.size for r in sizes.size_history(japan)] == [10, 11, 14]


def test_the_segment_page_charts_the_sizes(japan, client):
    client.force_login(japan.workspace.memberships.get(role="owner").user)
    page = client.get(f"/segments/{japan.pk}/").content.decode()
    assert "Not counted yet" in page

    sizes.record_size(japan, reason="daily", size=8)
    sizes.record_size(japan, reason="run")
    page = client.get(f"/segments/{japan.pk}/").content.decode()

    assert 'aria-label="Audience size: 2 points; the latest: 10."' in page
    assert "The audience moved +25% at the last count." in page
    assert page.count("<circle") == 2
