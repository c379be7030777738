"""The UI works under its Content-Security-Policy: no page or interaction is blocked by it,
and an injected inline script does not run."""

import pytest
from playwright.sync_api import expect

from .conftest import sign_in
from .test_responsive_accessibility import pages, settle  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def record_violations(page) -> list[str]:
    """Everything the browser blocked because of the policy, as it reports it."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_key_pages_and_their_htmx_parts_load_without_a_policy_violation(page, site, pages):  # noqa: F811
    violations = record_violations(page)
    sign_in(page, site)
    for name, path in pages.items():
        response = page.goto(site.url + path)
        assert "script-src 'self'" in response.headers["content-security-policy"], name
        settle(page)
    assert violations == []


def test_rule_builder_and_editor_preview_work_under_the_policy(page, site, marketer):
    violations = record_violations(page)
    sign_in(page, site)
    page.goto(f"{site.url}/segments/{marketer['segment'].pk}/edit/")
    condition = page.locator("#rule-builder .rule-condition").first
    condition.get_by_label("Value").fill("US")
    expect(page.locator("#audience-size")).to_have_text("1")
    assert violations == []


def test_an_injected_inline_script_does_not_run(page, site, marketer):
    violations = record_violations(page)
    sign_in(page, site)
    page.evaluate(
        """() => {
        const script = document.createElement('script');
        script.textContent = 'window.injected = true';
        document.body.appendChild(script);
    }"""
    )
    assert page.evaluate("() => window.injected === true") is False
    assert any("script-src" in violation for violation in violations)
