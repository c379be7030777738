"""Every key page at phone width, and a basic accessibility check: axe-core's WCAG A/AA rules,
a label on every input, and a keyboard that reaches the main buttons with visible focus."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activations.models import FailedRow, Run
from tests.factories import make_activation, make_connection

from .conftest import inject_axe, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNLABELLED_CONTROLS = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return result.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    name: (el.getAttribute('aria-label') || (el.labels && el.labels.length && el.labels[0].innerText)
           || el.innerText || '').trim(),
    tag: el.tagName.toLowerCase(),
    visible: style.boxShadow !== 'none' || (style.outlineStyle !== 'none' && style.outlineWidth !== '0px'),
  };
}"""


@pytest.fixture
def pages(marketer):
    """The key pages, with an activation whose last run has a failed row."""
    connection = make_connection(workspace=marketer["workspace"], name="Production org")
    activation = make_activation(
        segment=marketer["segment"],
        connection=connection,
        schedule_type="daily",
        timezone="Asia/Tokyo",
        notify_emails=["team@example.com"],
    )
    run = Run.objects.create(
        activation=activation,
        status=Run.Status.PARTIALLY_FAILED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        rows_read=3,
        rows_sent=3,
        rows_succeeded=2,
        rows_failed=1,
        columns=["customer_id", "email"],
        log=[{"at": timezone.now().isoformat(), "message": "Partially failed."}],
    )
    FailedRow.objects.create(
        run=run, values=["C002", "kenji@example.jp"], error="INVALID_EMAIL_ADDRESS:Email"
    )
    parent, segment = marketer["parent"], marketer["segment"]
    return {
        "audience-studio": "/audience/",
        "parent-segment": f"/audience/{parent.pk}/",
        "segments": "/segments/",
        "segment": f"/segments/{segment.pk}/",
        "segment-editor": f"/segments/{segment.pk}/edit/",
        "activation-editor": f"/activations/new/?segment={segment.pk}",
        "activation": f"/activations/{activation.pk}/",
        "run": f"/activations/{activation.pk}/runs/{run.pk}/",
        "activations": "/activations/",
        "connections": "/connections/",
        "connection": f"/connections/{connection.pk}/",
        "segment-delete": f"/segments/{segment.pk}/delete/",
        "parent-delete": f"/audience/{parent.pk}/delete/",
        "activation-duplicate": f"/activations/new/?copy={activation.pk}",
        "activation-delete": f"/activations/{activation.pk}/delete/",
        "segment-search": "/segments/?q=nothing-matches",
    }


def settle(page):
    """Wait until htmx has filled lazily loaded parts (sizes, previews)."""
    page.wait_for_load_state("networkidle")


def test_key_pages_pass_axe_and_label_every_input(page, site, pages):
    page.goto(site.url + "/login/")
    inject_axe(page)
    assert page.evaluate(AXE_RUN) == []
    sign_in(page, site)
    for name, path in pages.items():
        page.goto(site.url + path)
        settle(page)
        assert page.evaluate(UNLABELLED_CONTROLS) == [], name
        inject_axe(page)
        assert page.evaluate(AXE_RUN) == [], name


def tab_through(page, limit=250):
    page.locator("body").click(position={"x": 1, "y": 1})
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED))
    return seen


def test_keyboard_reaches_the_editor_and_activation_buttons_with_visible_focus(page, site, pages):
    sign_in(page, site)
    page.goto(site.url + pages["activation-editor"])
    settle(page)
    page.get_by_label("Export All Columns").uncheck()
    seen = tab_through(page)
    names = [item["name"] for item in seen]
    for wanted in [
        "Activation name",
        "Test connection",
        "+ Create new connection",
        "+ Add Columns",
        "+ Add string",
        "Create",
    ]:
        assert wanted in names or any(item["name"].startswith(wanted) for item in seen), wanted
    assert all(item["visible"] for item in seen if item["tag"] in ("button", "a", "select")), [
        item for item in seen if not item["visible"]
    ]

    page.goto(site.url + pages["activation"])
    names = [item["name"] for item in tab_through(page, limit=30)]
    assert "▶ Run now" in names
    assert "Edit" in names


def test_key_pages_fit_a_phone_screen(page, site, pages):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, site)
    for name, path in pages.items():
        page.goto(site.url + path)
        settle(page)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} is {overflow}px wider than the phone"
        if name in ("segment", "activation-editor", "activation", "run"):
            screenshot(page, f"phone-{name}")
    # The main navigation stays reachable at phone width.
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Activations")
    ).to_be_visible()
