"""Login URL validation: Salesforce host forms, the allow-list, and everything refused."""

import pytest

from common.validation import InvalidInput
from connectors.services import validate_login_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://login.salesforce.com/", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("  https://LOGIN.Salesforce.com  ", "https://login.salesforce.com"),
        ("https://login.salesforce.com:443", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com"),
        ("https://acme-corp.my.salesforce.com/", "https://acme-corp.my.salesforce.com"),
        (
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://acme--uat.sandbox.my.salesforce.com",
        ),
        (
            "https://acme-dev-ed.develop.my.salesforce.com",
            "https://acme-dev-ed.develop.my.salesforce.com",
        ),
        ("https://na1.salesforce.com", "https://na1.salesforce.com"),
        ("https://cs42.salesforce.com", "https://cs42.salesforce.com"),
    ],
)
def test_accepts_salesforce_host_forms(url, expected):
    assert validate_login_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the login URL, e.g. https://login.salesforce.com."),
        ("http://login.salesforce.com", "The login URL must start with https://."),
        ("ftp://login.salesforce.com", "The login URL must start with https://."),
        ("login.salesforce.com", "The login URL must start with https://."),
        (
            "https://user:pw@login.salesforce.com",
            "The login URL must not contain a user name or password.",
        ),
        (
            "https://evil.example\\@login.salesforce.com",
            "The login URL must not contain a user name or password.",
        ),
        (
            "https://login.salesforce.com/services/Soap/u/64.0",
            "The login URL is just the scheme and host, e.g. https://login.salesforce.com "
            "(no path or query).",
        ),
        (
            "https://login.salesforce.com/?next=x",
            "The login URL is just the scheme and host, e.g. https://login.salesforce.com "
            "(no path or query).",
        ),
        (
            "https://login.salesforce.com#top",
            "The login URL is just the scheme and host, e.g. https://login.salesforce.com "
            "(no path or query).",
        ),
        ("https://login.salesforce.com:99999", "This is not a valid URL."),
    ],
)
def test_refuses_malformed_urls(url, message):
    with pytest.raises(InvalidInput) as raised:
        validate_login_url(url)
    assert raised.value.errors == {"login_url": [message]}


@pytest.mark.parametrize(
    "url",
    [
        "https://login.salesforce.com.evil.example",
        "https://evilsalesforce.com",
        "https://salesforce.com",
        "https://acme.force.com",
        "https://acme.my.site.com",
        "https://a.b.my.salesforce.com",
        "https://login.salesforce.com:8443",
        "https://127.0.0.1",
        "https://127.0.0.1:8443",
        "https://[::1]:8443",
        "https://10.0.0.5",
        "https://169.254.169.254",
        "https://localhost",
        "https://metadata.google.internal",
    ],
)
def test_refuses_hosts_that_are_not_salesforce(url):
    with pytest.raises(InvalidInput) as raised:
        validate_login_url(url)
    [message] = raised.value.errors["login_url"]
    assert "is not a Salesforce login host" in message


def test_accepts_allow_listed_host_and_port_exactly(settings):
    settings.SALESFORCE_ALLOWED_HOSTS = ["127.0.0.1:8443", "sfproxy.internal"]

    assert validate_login_url("https://127.0.0.1:8443/") == "https://127.0.0.1:8443"
    assert validate_login_url("https://sfproxy.internal") == "https://sfproxy.internal"
    assert validate_login_url("https://sfproxy.internal:443") == "https://sfproxy.internal"
    for refused in ("https://127.0.0.1:8444", "https://127.0.0.1", "https://sfproxy.internal:8443"):
        with pytest.raises(InvalidInput):
            validate_login_url(refused)


def test_allow_listed_host_still_needs_https(settings):
    settings.SALESFORCE_ALLOWED_HOSTS = ["127.0.0.1:8443"]

    with pytest.raises(InvalidInput) as raised:
        validate_login_url("http://127.0.0.1:8443")

    assert raised.value.errors == {"login_url": ["The login URL must start with https://."]}


@pytest.mark.parametrize(
    "url",
    [
        "https://login.salesforce.com@evil.example",
        "https://login.salesforce.com:443@evil.example",
        "https://evil.example\\@login.salesforce.com",
        "https://evil.example#@login.salesforce.com",
        "https://login.salesforce.com.",
        "https://xn--lgin-53d.salesforce.com",
        "https://lоgin.salesforce.com",
        "https://0x7f000001",
        "https://2130706433",
    ],
)
def test_refuses_user_info_trailing_dot_look_alike_and_numeric_hosts(url):
    with pytest.raises(InvalidInput):
        validate_login_url(url)
