"""Browser tests: Debian's Chromium driven by Playwright against Django's live server."""

import os
from pathlib import Path

import pytest

from tests.factories import (
    make_japan_segment,
    make_user,
    make_workspace,
)

# The committed PNGs the README shows; CI may point SCREENSHOTS_DIR elsewhere to keep the
# working tree clean.
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOTS_DIR")
    or Path(__file__).resolve().parents[2] / "docs" / "screenshots"
)
AXE_SOURCE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"

CUSTOMERS_CSV = """customer_id,email,first_name,last_name,country,age,lifetime_value,consent,signup_date,last_seen_at
C001,aiko@example.jp,Aiko,Tanaka,JP,34,1200.50,true,2023-04-01,2024-05-01T09:30:00Z
C002,kenji@example.jp,Kenji,Sato,JP,41,310,false,2022-11-15,2024-04-20T18:00:00Z
C003,mia@example.com,Mia,Smith,US,28,75.25,true,2024-01-09,
C004,yuki@example.jp,Yuki,Suzuki,JP,,980,true,2021-06-30,2024-05-02T07:15:00Z
C005,liam@example.co.uk,Liam,Brown,GB,52,4300,true,2020-02-29,2024-03-11T12:00:00Z
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The emulator's certificate is self-signed; the OAuth round trip visits its authorize page.
    return {
        **browser_context_args,
        "viewport": {"width": 1366, "height": 900},
        "ignore_https_errors": True,
    }


@pytest.fixture
def site(live_server, settings):
    """The live server, with links and the OAuth callback pointing at it."""
    settings.SITE_URL = live_server.url
    return live_server


@pytest.fixture
def marketer(transactional_db):
    """A workspace owner with a parent segment of five customers and a "Japan" segment."""
    workspace = make_workspace("Acme Marketing")
    user = make_user("marketer", workspace=workspace, role="owner")
    segment = make_japan_segment(
        workspace=workspace, csv=CUSTOMERS_CSV.encode(), description="Customers in Japan"
    )
    parent = segment.parent_segment
    return {"workspace": workspace, "user": user, "parent": parent, "segment": segment}


def inject_axe(page) -> None:
    """Load axe-core into the page. Evaluated through the DevTools protocol: a <script> tag
    with its source would be inline, which the Content-Security-Policy blocks."""
    page.evaluate(AXE_SOURCE.read_text())


def sign_in(page, site, username="marketer", password="password"):
    page.goto(site.url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/audience/")


# While a page or panel is photographed, the sticky bars stay in place instead of covering it.
UNSTICK = ".topbar, .sticky-actions, .stepper { position: static !important; }"


def screenshot(target, name: str) -> None:
    """Save a PNG for the README (committed under docs/screenshots/): a whole page, or one
    element such as an editor panel."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    whole_page = hasattr(target, "goto")
    style = (target if whole_page else target.page).add_style_tag(content=UNSTICK)
    try:
        if whole_page:
            target.screenshot(path=path, full_page=True)
        else:
            target.screenshot(path=path)
    finally:
        style.evaluate("node => node.remove()")
