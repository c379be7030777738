"""The Content-Security-Policy the UI works under, and the admin's connection form checking
the login URL as the API does."""

import re
from pathlib import Path

import pytest

from connectors.models import Connection

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("path", ["/login/", "/audience/", "/segments/", "/activations/"])
def test_every_page_carries_the_content_security_policy(owner_client, path):
    response = owner_client.get(path, follow=True)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-eval'" not in policy
    assert "script-src 'self' 'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_api_answers_carry_it_too_and_the_policy_is_configurable(owner_client, settings):
    assert (
        "default-src 'self'" in owner_client.get("/api/v1/workspaces/")["Content-Security-Policy"]
    )
    settings.CONTENT_SECURITY_POLICY = "default-src 'none'"
    assert owner_client.get("/audience/")["Content-Security-Policy"] == "default-src 'none'"


def test_templates_have_no_inline_scripts_or_event_handlers():
    """What the policy would block: every script is a file under /static/."""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for match in INLINE_SCRIPT.finditer(text):
            offenders.append(f"{template.relative_to(TEMPLATES)}: {match.group(0)}")
        for match in EVENT_HANDLER.finditer(text):
            offenders.append(f"{template.relative_to(TEMPLATES)}: {match.group(0).strip()}")
    assert offenders == []


def test_htmx_is_configured_without_eval(owner_client):
    page = owner_client.get("/audience/").content.decode()
    assert '"allowEval": false' in page
    assert "hx-on" not in page
    assert "js:" not in page


def admin_form_data(team, **fields):
    data = {
        "workspace": team["workspace"].pk,
        "name": "From the admin",
        "kind": "salesforce",
        "auth_method": "credentials",
        "login_url": "https://login.salesforce.com",
        "username": "marketer@example.com",
        "password": "hunter2",
        "security_token": "TOKEN123",
        "retry_initial_delay": 1,
        "retry_limit": 3,
    }
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("login_url", "message"),
    [
        ("http://169.254.169.254/latest/meta-data", "must start with https://"),
        ("https://evil.example.com", "evil.example.com"),
        ("https://user:pw@login.salesforce.com", "must not contain a user name or password"),
    ],
)
def test_admin_connection_form_refuses_login_urls_the_api_refuses(team, login_url, message):
    from connectors.admin import ConnectionAdminForm

    form = ConnectionAdminForm(data=admin_form_data(team, login_url=login_url))
    assert not form.is_valid()
    assert message in " ".join(form.errors["login_url"])


def test_admin_connection_form_refuses_a_generic_host_for_client_credentials(team):
    from connectors.admin import ConnectionAdminForm

    form = ConnectionAdminForm(
        data=admin_form_data(
            team, auth_method="client_credentials", client_id="id", client_secret="secret"
        )
    )
    assert not form.is_valid()
    assert "My Domain URL" in " ".join(form.errors["login_url"])


def test_admin_connection_form_normalises_an_accepted_login_url(team):
    from connectors.admin import ConnectionAdminForm

    form = ConnectionAdminForm(
        data=admin_form_data(team, login_url="https://login.salesforce.com/")
    )
    assert form.is_valid(), form.errors
    connection = form.save()
    assert Connection.objects.get(pk=connection.pk).login_url == "https://login.salesforce.com"


def test_admin_page_refuses_the_bad_login_url(client, team):
    from tests.factories import make_user

    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    response = client.post(
        "/admin/connectors/connection/add/",
        admin_form_data(team, login_url="https://metadata.internal"),
    )
    assert response.status_code == 200
    assert "metadata.internal" in response.content.decode()
    assert not Connection.objects.filter(name="From the admin").exists()
