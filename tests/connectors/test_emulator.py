"""The Salesforce emulator over real HTTPS: auth, describe, Bulk API 2.0 ingest and query jobs, faults."""

import base64
import csv
import hashlib
import io
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.salesforce_emulator.ids import suffix, to_18

API = "/services/data/v59.0"
SOAP_NS = {
    "soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
    "p": "urn:partner.soap.sforce.com",
}


def http(emulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = emulator.ca_path
    return session


def soap_login(
    emulator, *, username="marketer@example.com", password="hunter2TOKEN123", version="64.0"
):
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
        '<n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{username}</n1:username><n1:password>{password}</n1:password>"
        "</n1:login></env:Body></env:Envelope>"
    )
    return http(emulator).post(
        f"{emulator.url}/services/Soap/u/{version}",
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
        timeout=10,
    )


def xml_text(response, tag: str) -> str:
    match = re.search(rf"<(?:\w+:)?{tag}>(.*?)</(?:\w+:)?{tag}>", response.text, re.S)
    return match.group(1) if match else ""


class Api:
    """A minimal REST client for the tests, authenticated with a session id."""

    def __init__(self, emulator, token=None) -> None:
        self.emulator = emulator
        self.session = http(emulator)
        self.token = token or emulator.new_session()

    def request(self, method, path, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else self.emulator.url + path
        return self.session.request(method, url, headers=headers, timeout=10, **kwargs)

    def create_job(self, **spec) -> dict:
        response = self.request("POST", f"{API}/jobs/ingest", json=spec)
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, job: dict, text: str) -> requests.Response:
        return self.request(
            "PUT",
            f"/{job['contentUrl']}",
            data=text.encode("utf-8"),
            headers={"Content-Type": "text/csv"},
        )

    def close(self, job_id: str) -> requests.Response:
        return self.request(
            "PATCH", f"{API}/jobs/ingest/{job_id}", json={"state": "UploadComplete"}
        )

    def wait(self, job_id: str, kind="ingest") -> dict:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            info = self.request("GET", f"{API}/jobs/{kind}/{job_id}").json()
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                return info
            time.sleep(0.02)
        raise AssertionError("job did not finish")

    def run(self, text: str, **spec) -> dict:
        """Create, upload, close and wait; returns the final job info."""
        job = self.create_job(**spec)
        assert self.upload(job, text).status_code == 201
        assert self.close(job["id"]).status_code == 200
        return self.wait(job["id"])

    def result(self, job_id: str, kind: str) -> str:
        response = self.request(
            "GET", f"{API}/jobs/ingest/{job_id}/{kind}/", headers={"Accept": "text/csv"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "text/csv; charset=UTF-8"
        return response.text


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- SOAP login -------------------------------------------------------------------------------


def test_soap_login_returns_session_and_server_url(salesforce_emulator):
    response = soap_login(salesforce_emulator)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    session_id = xml_text(response, "sessionId")
    server_url = xml_text(response, "serverUrl")
    assert re.fullmatch(r"00D\w{12}!AQ[\w-]+", session_id)
    assert server_url.startswith(f"{salesforce_emulator.url}/services/Soap/u/64.0/00D")
    assert xml_text(response, "passwordExpired") == "false"
    assert xml_text(response, "userName") == "marketer@example.com"
    assert xml_text(response, "sessionSecondsValid") == "7200"
    limits = Api(salesforce_emulator, token=session_id).request("GET", f"{API}/limits/")
    assert limits.status_code == 200
    assert limits.json()["DailyApiRequests"]["Max"] == 15000


def test_soap_login_with_wrong_password_is_invalid_login_fault(salesforce_emulator):
    response = soap_login(salesforce_emulator, password="wrongTOKEN123")

    assert response.status_code == 500
    assert "<faultcode>sf:INVALID_LOGIN</faultcode>" in response.text
    assert xml_text(response, "exceptionCode") == "INVALID_LOGIN"
    assert (
        xml_text(response, "exceptionMessage")
        == "Invalid username, password, security token; or user locked out."
    )
    assert 'xsi:type="sf:LoginFault"' in response.text


def test_soap_login_for_unknown_user_is_invalid_login(salesforce_emulator):
    response = soap_login(salesforce_emulator, username="nobody@example.com")

    assert response.status_code == 500
    assert xml_text(response, "exceptionCode") == "INVALID_LOGIN"


def test_soap_login_of_locked_user_is_invalid_login(salesforce_emulator):
    salesforce_emulator.user().locked = True

    response = soap_login(salesforce_emulator)

    assert response.status_code == 500
    assert xml_text(response, "exceptionCode") == "INVALID_LOGIN"


def test_soap_login_without_security_token_must_use_token(salesforce_emulator):
    response = soap_login(salesforce_emulator, password="hunter2")

    assert response.status_code == 500
    assert xml_text(response, "exceptionCode") == "LOGIN_MUST_USE_SECURITY_TOKEN"
    assert "you must add a security token to your password" in xml_text(
        response, "exceptionMessage"
    )


def test_soap_login_without_token_works_for_trusted_network_user(salesforce_emulator):
    salesforce_emulator.add_user("trusted@example.com", "s3cret", "TOK", token_required=False)

    response = soap_login(salesforce_emulator, username="trusted@example.com", password="s3cret")

    assert response.status_code == 200


def test_soap_login_for_user_without_api_is_api_disabled(salesforce_emulator):
    salesforce_emulator.user().api_enabled = False

    response = soap_login(salesforce_emulator)

    assert response.status_code == 500
    assert xml_text(response, "exceptionCode") == "API_DISABLED_FOR_ORG"


@pytest.mark.parametrize("version", ["65.0", "66.0", "20.0"])
def test_soap_login_outside_supported_versions_is_unsupported_api_version(
    salesforce_emulator, version
):
    response = soap_login(salesforce_emulator, version=version)

    assert response.status_code == 500
    assert "<faultcode>sf:UNSUPPORTED_API_VERSION</faultcode>" in response.text


# --- sessions --------------------------------------------------------------------------------


def test_request_without_token_is_invalid_session(salesforce_emulator):
    response = http(salesforce_emulator).get(f"{salesforce_emulator.url}{API}/limits/", timeout=10)

    assert response.status_code == 401
    assert response.json() == [
        {"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}
    ]


def test_expired_sessions_answer_401_and_a_new_login_works(salesforce_emulator):
    token = xml_text(soap_login(salesforce_emulator), "sessionId")
    salesforce_emulator.expire_sessions()

    expired = Api(salesforce_emulator, token=token).request("GET", f"{API}/limits/")
    fresh = xml_text(soap_login(salesforce_emulator), "sessionId")
    renewed = Api(salesforce_emulator, token=fresh).request("GET", f"{API}/limits/")

    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert renewed.status_code == 200


def test_session_lifetime_setting_expires_sessions(salesforce_emulator):
    salesforce_emulator.settings.session_seconds = 0
    token = xml_text(soap_login(salesforce_emulator), "sessionId")

    response = Api(salesforce_emulator, token=token).request("GET", f"{API}/limits/")

    assert response.status_code == 401


# --- OAuth -----------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = "v" * 43 + "Xy-_~."
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    return verifier, challenge


def authorize(
    emulator,
    *,
    challenge,
    client_id="emulator-client-id",
    redirect_uri="https://app.example/callback",
):
    return http(emulator).get(
        f"{emulator.url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": "opaque-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )


def token(emulator, **form) -> requests.Response:
    return http(emulator).post(f"{emulator.url}/services/oauth2/token", data=form, timeout=10)


def test_oauth_code_flow_with_pkce_issues_tokens(salesforce_emulator):
    verifier, challenge = pkce_pair()

    redirect = authorize(salesforce_emulator, challenge=challenge)
    location = urlsplit(redirect.headers["Location"])
    params = parse_qs(location.query)
    response = token(
        salesforce_emulator,
        grant_type="authorization_code",
        code=params["code"][0],
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
        redirect_uri="https://app.example/callback",
        code_verifier=verifier,
    )

    assert redirect.status_code == 302
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.example/callback"
    assert params["state"] == ["opaque-state"]
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == salesforce_emulator.url
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"]
    assert body["id"].startswith(f"{salesforce_emulator.url}/id/00D")
    assert body["issued_at"].isdigit()
    assert body["signature"]
    assert (
        Api(salesforce_emulator, token=body["access_token"])
        .request("GET", f"{API}/limits/")
        .status_code
        == 200
    )


def test_oauth_code_with_wrong_verifier_is_invalid_grant(salesforce_emulator):
    _, challenge = pkce_pair()
    code = parse_qs(
        urlsplit(authorize(salesforce_emulator, challenge=challenge).headers["Location"]).query
    )["code"][0]

    response = token(
        salesforce_emulator,
        grant_type="authorization_code",
        code=code,
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
        redirect_uri="https://app.example/callback",
        code_verifier="not-the-verifier-" + "x" * 30,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_oauth_code_can_be_used_once(salesforce_emulator):
    verifier, challenge = pkce_pair()
    code = parse_qs(
        urlsplit(authorize(salesforce_emulator, challenge=challenge).headers["Location"]).query
    )["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "emulator-client-id",
        "client_secret": "emulator-client-secret",
        "redirect_uri": "https://app.example/callback",
        "code_verifier": verifier,
    }

    first = token(salesforce_emulator, **form)
    second = token(salesforce_emulator, **form)

    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json() == {
        "error": "invalid_grant",
        "error_description": "invalid authorization code",
    }


def test_oauth_authorize_with_unknown_client_is_rejected(salesforce_emulator):
    response = authorize(salesforce_emulator, challenge="x", client_id="unknown")

    assert response.status_code == 400
    assert "error=invalid_client_id" in response.text


def test_oauth_refresh_token_grant_issues_new_access_token(salesforce_emulator):
    verifier, challenge = pkce_pair()
    code = parse_qs(
        urlsplit(authorize(salesforce_emulator, challenge=challenge).headers["Location"]).query
    )["code"][0]
    first = token(
        salesforce_emulator,
        grant_type="authorization_code",
        code=code,
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
        redirect_uri="https://app.example/callback",
        code_verifier=verifier,
    ).json()

    response = token(
        salesforce_emulator,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["access_token"] != first["access_token"]
    assert "refresh_token" not in body
    assert body["instance_url"] == salesforce_emulator.url


def test_oauth_unknown_refresh_token_is_invalid_grant(salesforce_emulator):
    response = token(
        salesforce_emulator,
        grant_type="refresh_token",
        refresh_token="5Aepbogus",
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }


def test_oauth_client_credentials_grant_issues_token_without_refresh_token(salesforce_emulator):
    response = token(
        salesforce_emulator,
        grant_type="client_credentials",
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
    )

    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body
    assert (
        Api(salesforce_emulator, token=body["access_token"])
        .request("GET", f"{API}/limits/")
        .status_code
        == 200
    )


def test_oauth_client_credentials_on_a_generic_login_host_is_refused(salesforce_emulator):
    salesforce_emulator.settings.generic_login_host = True

    response = token(
        salesforce_emulator,
        grant_type="client_credentials",
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "request not supported on this domain",
    }


def test_oauth_with_wrong_client_secret_is_invalid_client(salesforce_emulator):
    response = token(
        salesforce_emulator,
        grant_type="client_credentials",
        client_id="emulator-client-id",
        client_secret="wrong",
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }


def test_oauth_with_unknown_client_id_is_invalid_client_id(salesforce_emulator):
    response = token(
        salesforce_emulator, grant_type="client_credentials", client_id="nope", client_secret="x"
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client_id",
        "error_description": "client identifier invalid",
    }


def test_oauth_password_grant_with_bad_password_is_authentication_failure(salesforce_emulator):
    response = token(
        salesforce_emulator,
        grant_type="password",
        client_id="emulator-client-id",
        client_secret="emulator-client-secret",
        username="marketer@example.com",
        password="wrong",
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }


def test_oauth_unknown_grant_type_is_unsupported(salesforce_emulator):
    response = token(salesforce_emulator, grant_type="magic", client_id="emulator-client-id")

    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported",
    }


# --- describe and versions -------------------------------------------------------------------


def test_describe_contact_lists_fields_with_real_metadata_keys(salesforce_emulator):
    response = Api(salesforce_emulator).request("GET", f"{API}/sobjects/Contact/describe/")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Contact"
    assert body["keyPrefix"] == "003"
    fields = {item["name"]: item for item in body["fields"]}
    assert fields["LastName"]["nillable"] is False
    assert fields["LastName"]["createable"] is True
    assert fields["LastName"]["defaultedOnCreate"] is False
    assert fields["Email"]["type"] == "email"
    assert fields["Email"]["idLookup"] is True
    assert fields["Customer_Key__c"]["externalId"] is True
    assert fields["Customer_Key__c"]["unique"] is True
    assert fields["Birthdate"]["type"] == "date"
    assert fields["HasOptedOutOfEmail"]["type"] == "boolean"
    assert fields["Id"]["createable"] is False
    assert fields["Name"]["createable"] is False
    for key in ("label", "length", "updateable", "soapType", "picklistValues", "referenceTo"):
        assert key in fields["Email"]


def test_describe_custom_object_has_external_id(salesforce_emulator):
    body = (
        Api(salesforce_emulator)
        .request("GET", f"{API}/sobjects/Audience_Member__c/describe")
        .json()
    )

    fields = {item["name"]: item for item in body["fields"]}
    assert body["custom"] is True
    assert fields["Customer_Key__c"]["externalId"] is True
    assert fields["Exported_At__c"]["type"] == "datetime"
    assert fields["Lifetime_Value__c"]["type"] == "currency"
    assert fields["Consent__c"]["type"] == "boolean"


def test_describe_lead_status_has_default(salesforce_emulator):
    body = Api(salesforce_emulator).request("GET", f"{API}/sobjects/Lead/describe").json()

    fields = {item["name"]: item for item in body["fields"]}
    assert fields["Company"]["nillable"] is False
    assert fields["Status"]["defaultedOnCreate"] is True
    assert fields["Status"]["defaultValue"] == "Open - Not Contacted"


def test_describe_unknown_object_is_not_found(salesforce_emulator):
    response = Api(salesforce_emulator).request("GET", f"{API}/sobjects/Nope__c/describe")

    assert response.status_code == 404
    assert response.json() == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


def test_versions_list_needs_no_session(salesforce_emulator):
    response = http(salesforce_emulator).get(
        f"{salesforce_emulator.url}/services/data/", timeout=10
    )

    versions = {item["version"]: item for item in response.json()}
    assert versions["59.0"] == {
        "label": "Winter '24",
        "url": "/services/data/v59.0",
        "version": "59.0",
    }
    assert "66.0" in versions


def test_retired_api_version_is_gone_and_unknown_is_not_found(salesforce_emulator):
    api = Api(salesforce_emulator)

    assert api.request("GET", "/services/data/v20.0/limits/").status_code == 410
    assert api.request("GET", "/services/data/v99.0/limits/").status_code == 404


def test_ingest_below_api_41_does_not_exist(salesforce_emulator):
    response = Api(salesforce_emulator).request(
        "POST",
        "/services/data/v40.0/jobs/ingest",
        json={"object": "Contact", "operation": "insert"},
    )

    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


# --- ingest jobs -----------------------------------------------------------------------------


def test_create_job_returns_job_info_with_real_fields(salesforce_emulator):
    job = Api(salesforce_emulator).create_job(
        object="Contact", operation="insert", contentType="CSV", lineEnding="LF"
    )

    assert list(job) == [
        "id",
        "operation",
        "object",
        "createdById",
        "createdDate",
        "systemModstamp",
        "state",
        "concurrencyMode",
        "contentType",
        "apiVersion",
        "contentUrl",
        "lineEnding",
        "columnDelimiter",
    ]
    assert re.fullmatch(r"750\w{15}", job["id"])
    assert job["state"] == "Open"
    assert job["apiVersion"] == 59.0
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", job["createdDate"])
    assert job["createdById"].startswith("005")
    assert (
        job["concurrencyMode"],
        job["contentType"],
        job["lineEnding"],
        job["columnDelimiter"],
    ) == (
        "Parallel",
        "CSV",
        "LF",
        "COMMA",
    )


def test_insert_job_lifecycle_stores_records_and_reports_results(salesforce_emulator):
    api = Api(salesforce_emulator)
    job = api.create_job(object="Contact", operation="insert")
    assert (
        api.upload(
            job,
            "FirstName,LastName,Email\nAda,Lovelace,ada@example.com\nAlan,Turing,alan@example.com\n",
        ).status_code
        == 201
    )
    closed = api.close(job["id"])
    assert closed.status_code == 200
    assert closed.json()["state"] == "UploadComplete"

    info = api.wait(job["id"])

    assert info["state"] == "JobComplete"
    assert info["jobType"] == "V2Ingest"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"], info["retries"]) == (
        2,
        0,
        0,
    )
    assert "contentUrl" not in info
    contacts = salesforce_emulator.records("Contact")
    assert [(c["FirstName"], c["LastName"], c["Email"]) for c in contacts] == [
        ("Ada", "Lovelace", "ada@example.com"),
        ("Alan", "Turing", "alan@example.com"),
    ]
    successful = api.result(job["id"], "successfulResults")
    lines = successful.splitlines()
    assert lines[0] == '"sf__Id","sf__Created",FirstName,LastName,Email'
    assert lines[1] == f'"{contacts[0]["Id"]}","true","Ada","Lovelace","ada@example.com"'
    assert (
        api.result(job["id"], "failedResults") == '"sf__Id","sf__Error",FirstName,LastName,Email\n'
    )
    assert api.result(job["id"], "unprocessedrecords") == "FirstName,LastName,Email\n"


def test_record_ids_have_key_prefix_and_case_safe_suffix(salesforce_emulator):
    Api(salesforce_emulator).run("LastName\nA\nB\n", object="Contact", operation="insert")

    for contact in salesforce_emulator.records("Contact"):
        assert len(contact["Id"]) == 18
        assert contact["Id"].startswith("003")
        assert contact["Id"][15:] == suffix(contact["Id"][:15])


def test_suffix_matches_salesforce_algorithm():
    # 001A0000006Vm9r -> 001A0000006Vm9rIAC is a published example of the conversion.
    assert suffix("001A0000006Vm9r") == "IAC"


def test_insert_reports_missing_required_field_per_row(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run(
        "FirstName,LastName\nAda,Lovelace\nNoLast,\n", object="Contact", operation="insert"
    )

    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        2,
        1,
    )
    failed = rows(api.result(info["id"], "failedResults"))
    assert failed == [
        ["sf__Id", "sf__Error", "FirstName", "LastName"],
        [
            "",
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            "NoLast",
            "",
        ],
    ]
    assert [c["LastName"] for c in salesforce_emulator.records("Contact")] == ["Lovelace"]


def test_insert_with_unknown_column_fails_the_whole_job(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run("LastName,Foo\nLovelace,bar\n", object="Contact", operation="insert")

    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : Field name not found : Foo"
    assert api.result(info["id"], "unprocessedrecords") == "LastName,Foo\nLovelace,bar\n"
    assert salesforce_emulator.records("Contact") == []


def test_bad_typed_values_are_row_errors(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run(
        "LastName,Birthdate,HasOptedOutOfEmail,Lifetime_Value__c\n"
        "Ok,1990-01-02,true,912260031\n"
        "BadDate,abc,false,1\n"
        "BadBool,,maybe,\n"
        "BadNumber,,,12x\n",
        object="Contact",
        operation="insert",
    )

    failed = rows(api.result(info["id"], "failedResults"))
    errors = {row[2]: row[1] for row in failed[1:]}
    assert errors == {
        "BadDate": "INVALID_FIELD:Failed to deserialize field at col 1. Due to, 'abc' is not a valid value for the type xsd:date:Birthdate --",
        "BadBool": "INVALID_FIELD:Failed to deserialize field at col 2. Due to, 'maybe' is not a valid value for the type xsd:boolean:HasOptedOutOfEmail --",
        "BadNumber": "INVALID_FIELD:Failed to deserialize field at col 3. Due to, '12x' is not a valid value for the type xsd:double:Lifetime_Value__c --",
    }
    [stored] = salesforce_emulator.records("Contact")
    assert (stored["Birthdate"], stored["HasOptedOutOfEmail"], stored["Lifetime_Value__c"]) == (
        "1990-01-02",
        True,
        912260031.0,
    )
    successful = rows(api.result(info["id"], "successfulResults"))
    assert successful[1][2:] == ["Ok", "1990-01-02", "true", "9.12260031E8"]


def test_insert_duplicate_external_id_is_duplicate_value(salesforce_emulator):
    [existing] = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Old", "Customer_Key__c": "C-1"}]
    )
    api = Api(salesforce_emulator)

    info = api.run("LastName,Customer_Key__c\nNew,c-1\n", object="Contact", operation="insert")

    failed = rows(api.result(info["id"], "failedResults"))
    assert (
        failed[1][1]
        == f"DUPLICATE_VALUE:duplicate value found: Customer_Key__c duplicates value on record with id: {existing}:--"
    )
    assert len(salesforce_emulator.records("Contact")) == 1


def test_upsert_creates_and_updates_by_external_id(salesforce_emulator):
    [existing] = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Old", "Email": "old@example.com", "Customer_Key__c": "C-1"}]
    )
    api = Api(salesforce_emulator)

    info = api.run(
        "Customer_Key__c,LastName,Email\nC-1,Updated,\nC-2,Created,new@example.com\n",
        object="Contact",
        operation="upsert",
        externalIdFieldName="Customer_Key__c",
    )

    assert info["externalIdFieldName"] == "Customer_Key__c"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 0)
    successful = rows(api.result(info["id"], "successfulResults"))
    by_key = {row[2]: row for row in successful[1:]}
    assert by_key["C-1"][:2] == [existing, "false"]
    assert by_key["C-2"][1] == "true"
    records = {r["Customer_Key__c"]: r for r in salesforce_emulator.records("Contact")}
    # An empty cell leaves the field unchanged on update.
    assert (records["C-1"]["LastName"], records["C-1"]["Email"]) == ("Updated", "old@example.com")
    assert (records["C-2"]["LastName"], records["C-2"]["Email"]) == ("Created", "new@example.com")


def test_upsert_with_na_clears_a_field(salesforce_emulator):
    salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Old", "Phone": "123", "Customer_Key__c": "C-1"}]
    )

    Api(salesforce_emulator).run(
        "Customer_Key__c,Phone\nC-1,#N/A\n",
        object="Contact",
        operation="upsert",
        externalIdFieldName="Customer_Key__c",
    )

    assert salesforce_emulator.records("Contact")[0]["Phone"] is None


def test_upsert_with_same_key_twice_in_a_job_fails_both_rows(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run(
        "Customer_Key__c,LastName\nK-1,A\nK-1,B\nK-2,C\n",
        object="Contact",
        operation="upsert",
        externalIdFieldName="Customer_Key__c",
    )

    failed = rows(api.result(info["id"], "failedResults"))
    assert [row[1] for row in failed[1:]] == [
        "DUPLICATE_EXTERNAL_ID:Duplicate external id specified: K-1:--"
    ] * 2
    assert [r["Customer_Key__c"] for r in salesforce_emulator.records("Contact")] == ["K-2"]


def test_upsert_on_non_external_id_field_fails_the_job(salesforce_emulator):
    info = Api(salesforce_emulator).run(
        "Phone,LastName\n1,A\n", object="Contact", operation="upsert", externalIdFieldName="Phone"
    )

    assert info["state"] == "Failed"
    assert (
        info["errorMessage"]
        == "InvalidBatch : Field name provided, Phone is not an External ID or indexed field for Contact"
    )


def test_upsert_without_external_id_field_is_rejected_at_create(salesforce_emulator):
    response = Api(salesforce_emulator).request(
        "POST", f"{API}/jobs/ingest", json={"object": "Contact", "operation": "upsert"}
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDJOB"


def test_update_by_id_and_its_row_errors(salesforce_emulator):
    live, gone = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Live"}, {"LastName": "Gone"}]
    )
    api = Api(salesforce_emulator)
    api.run(f"Id\n{gone}\n", object="Contact", operation="delete")
    unknown = live[:9] + "zzzzzz"

    info = api.run(
        f"Id,LastName\n{live},Renamed\n{gone},X\nnot-an-id,X\n{unknown},X\n,X\n",
        object="Contact",
        operation="update",
    )

    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (5, 4)
    failed = rows(api.result(info["id"], "failedResults"))
    assert [row[:2] for row in failed[1:]] == [
        [gone, "ENTITY_IS_DELETED:entity is deleted:--"],
        ["", "MALFORMED_ID:Contact ID: id value of incorrect type: not-an-id:Id --"],
        [to_18(unknown), "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--"],
        ["", "MISSING_ARGUMENT:Id not specified in an update call:--"],
    ]
    assert salesforce_emulator.records("Contact")[0]["LastName"] == "Renamed"


def test_delete_moves_records_to_recycle_bin_and_hard_delete_removes_them(salesforce_emulator):
    first, second = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "A"}, {"LastName": "B"}]
    )
    api = Api(salesforce_emulator)

    soft = api.run(f"Id\n{first}\n", object="Contact", operation="delete")
    hard = api.run(f"Id\n{second}\n", object="Contact", operation="hardDelete")

    assert rows(api.result(soft["id"], "successfulResults")) == [
        ["sf__Id", "sf__Created", "Id"],
        [first, "false", first],
    ]
    assert rows(api.result(hard["id"], "successfulResults"))[1] == [second, "false", second]
    assert salesforce_emulator.records("Contact") == []
    assert [r["Id"] for r in salesforce_emulator.recycle_bin("Contact")] == [first]


def test_delete_with_other_columns_fails_the_job(salesforce_emulator):
    [record_id] = salesforce_emulator.insert_records("Contact", [{"LastName": "A"}])

    info = Api(salesforce_emulator).run(
        f"Id,LastName\n{record_id},A\n", object="Contact", operation="delete"
    )

    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : The 'delete' batch must contain only ids"


def test_hard_delete_without_permission_is_rejected(salesforce_emulator):
    salesforce_emulator.user().hard_delete_allowed = False

    response = Api(salesforce_emulator).request(
        "POST", f"{API}/jobs/ingest", json={"object": "Contact", "operation": "hardDelete"}
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "FEATURENOTENABLED"


def test_second_upload_to_a_job_is_rejected(salesforce_emulator):
    api = Api(salesforce_emulator)
    job = api.create_job(object="Contact", operation="insert")
    api.upload(job, "LastName\nA\n")

    response = api.upload(job, "LastName\nB\n")

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert response.json()[0]["message"].startswith(
        f"Found multiple contents for job: <{job['id']}>"
    )


def test_upload_after_close_is_invalid_job_state(salesforce_emulator):
    api = Api(salesforce_emulator)
    job = api.create_job(object="Contact", operation="insert")
    api.upload(job, "LastName\nA\n")
    api.close(job["id"])

    response = api.upload(job, "LastName\nB\n")

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_abort_open_job_and_abort_completed_job(salesforce_emulator):
    api = Api(salesforce_emulator)
    job = api.create_job(object="Contact", operation="insert")
    api.upload(job, "LastName\nA\n")

    aborted = api.request("PATCH", f"{API}/jobs/ingest/{job['id']}", json={"state": "Aborted"})
    again = api.request("PATCH", f"{API}/jobs/ingest/{job['id']}", json={"state": "Aborted"})

    assert aborted.json()["state"] == "Aborted"
    assert again.status_code == 400
    assert again.json() == [
        {"errorCode": "INVALIDJOBSTATE", "message": "Aborting already Aborted Job not allowed"}
    ]
    assert api.result(job["id"], "unprocessedrecords") == "LastName\nA\n"
    assert salesforce_emulator.records("Contact") == []


def test_results_before_completion_are_invalid_job_state(salesforce_emulator):
    api = Api(salesforce_emulator)
    job = api.create_job(object="Contact", operation="insert")

    response = api.request("GET", f"{API}/jobs/ingest/{job['id']}/successfulResults/")

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_results_paths_match_case_insensitively(salesforce_emulator):
    api = Api(salesforce_emulator)
    info = api.run("LastName\nA\n", object="Contact", operation="insert")

    response = api.request("GET", f"{API}/jobs/ingest/{info['id']}/unprocessedRecords")

    assert response.status_code == 200


def test_job_states_pass_through_in_progress(salesforce_emulator):
    salesforce_emulator.settings.processing_delay = 0.3
    api = Api(salesforce_emulator)
    job = api.create_job(object="Contact", operation="insert")
    api.upload(job, "LastName\nA\n")
    api.close(job["id"])
    seen = []

    while not seen or seen[-1] != "JobComplete":
        state = api.request("GET", f"{API}/jobs/ingest/{job['id']}").json()["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.02)

    assert seen == ["UploadComplete", "InProgress", "JobComplete"]


def test_list_and_delete_jobs(salesforce_emulator):
    api = Api(salesforce_emulator)
    info = api.run("LastName\nA\n", object="Contact", operation="insert")
    listed = api.request("GET", f"{API}/jobs/ingest").json()

    deleted = api.request("DELETE", f"{API}/jobs/ingest/{info['id']}")
    after = api.request("GET", f"{API}/jobs/ingest/{info['id']}")

    assert listed["done"] is True
    assert [job["id"] for job in listed["records"]] == [info["id"]]
    assert deleted.status_code == 204
    assert after.status_code == 404


def test_unknown_job_is_not_found(salesforce_emulator):
    response = Api(salesforce_emulator).request("GET", f"{API}/jobs/ingest/750000000000000AAA")

    assert response.status_code == 404
    assert response.json() == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


def test_line_ending_mismatch_fails_the_job(salesforce_emulator):
    info = Api(salesforce_emulator).run("LastName\r\nA\r\n", object="Contact", operation="insert")

    assert info["state"] == "Failed"
    assert (
        info["errorMessage"]
        == "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
    )


def test_pipe_delimited_crlf_job(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run(
        "LastName|Description\r\nA|x, y\r\n",
        object="Contact",
        operation="insert",
        columnDelimiter="PIPE",
        lineEnding="CRLF",
    )

    assert info["numberRecordsFailed"] == 0
    assert salesforce_emulator.records("Contact")[0]["Description"] == "x, y"
    assert (
        api.result(info["id"], "successfulResults").splitlines()[0]
        == '"sf__Id"|"sf__Created"|LastName|Description'
    )


def test_multipart_create_starts_at_upload_complete(salesforce_emulator):
    api = Api(salesforce_emulator)
    boundary = "BOUNDARY"
    body = (
        f"--{boundary}\r\n"
        'Content-Type: application/json\r\nContent-Disposition: form-data; name="job"\r\n\r\n'
        '{"object":"Contact","contentType":"CSV","operation":"insert"}\r\n'
        f"--{boundary}\r\n"
        'Content-Type: text/csv\r\nContent-Disposition: form-data; name="content"; filename="content"\r\n\r\n'
        "LastName\nMulti\n\r\n"
        f"--{boundary}--\r\n"
    )

    response = api.request(
        "POST",
        f"{API}/jobs/ingest",
        data=body.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    info = api.wait(response.json()["id"])

    assert response.json()["state"] == "UploadComplete"
    assert info["state"] == "JobComplete"
    assert [r["LastName"] for r in salesforce_emulator.records("Contact")] == ["Multi"]


# --- query jobs ------------------------------------------------------------------------------


def create_query(api: Api, soql: str, operation: str = "query") -> dict:
    response = api.request(
        "POST", f"{API}/jobs/query", json={"operation": operation, "query": soql}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_query_job_selects_by_key_list(salesforce_emulator):
    ada, _, alan = salesforce_emulator.insert_records(
        "Contact",
        [
            {"LastName": "Lovelace", "Customer_Key__c": "K-1", "Email": "ada@example.com"},
            {"LastName": "Hopper", "Customer_Key__c": "K-2"},
            {"LastName": "Turing", "Customer_Key__c": "K-3", "HasOptedOutOfEmail": True},
        ],
    )
    api = Api(salesforce_emulator)

    job = create_query(
        api,
        "SELECT Id, Customer_Key__c, Email, HasOptedOutOfEmail FROM Contact WHERE Customer_Key__c IN ('K-1', 'k-3')",
    )
    info = api.wait(job["id"], kind="query")
    response = api.request(
        "GET", f"{API}/jobs/query/{job['id']}/results", headers={"Accept": "text/csv"}
    )

    assert job["state"] == "UploadComplete"
    assert job["operation"] == "query"
    assert job["object"] == "Contact"
    assert info["jobType"] == "V2Query"
    assert info["numberRecordsProcessed"] == 2
    assert response.text == (
        '"Id","Customer_Key__c","Email","HasOptedOutOfEmail"\n'
        f'"{ada}","K-1","ada@example.com","false"\n'
        f'"{alan}","K-3","","true"\n'
    )
    assert response.headers["Sforce-Locator"] == "null"
    assert response.headers["Sforce-NumberOfRecords"] == "2"


def test_query_job_where_equals_and_and(salesforce_emulator):
    salesforce_emulator.insert_records(
        "Lead",
        [
            {"LastName": "A", "Company": "Acme", "Email": "a@acme.test"},
            {"LastName": "B", "Company": "Acme"},
            {"LastName": "C", "Company": "Other", "Email": "a@acme.test"},
        ],
    )
    api = Api(salesforce_emulator)

    job = create_query(
        api, "select LastName from Lead where Company = 'Acme' and Email = 'A@acme.test'"
    )
    api.wait(job["id"], kind="query")

    text = api.request("GET", f"{API}/jobs/query/{job['id']}/results").text
    assert text == '"LastName"\n"A"\n'


def test_query_results_page_with_locator(salesforce_emulator):
    ids = salesforce_emulator.insert_records("Contact", [{"LastName": f"N{i}"} for i in range(5)])
    api = Api(salesforce_emulator)
    job = create_query(api, "SELECT Id FROM Contact")
    api.wait(job["id"], kind="query")
    pages, locator = [], None

    while locator != "null":
        params = {"maxRecords": 2, **({"locator": locator} if locator else {})}
        response = api.request("GET", f"{API}/jobs/query/{job['id']}/results", params=params)
        locator = response.headers["Sforce-Locator"]
        pages.append((response.headers["Sforce-NumberOfRecords"], rows(response.text)[1:]))

    assert [count for count, _ in pages] == ["2", "2", "1"]
    assert [row[0] for _, page in pages for row in page] == ids


def test_query_all_includes_deleted_records(salesforce_emulator):
    kept, deleted = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Kept"}, {"LastName": "Deleted"}]
    )
    api = Api(salesforce_emulator)
    api.run(f"Id\n{deleted}\n", object="Contact", operation="delete")

    query_job = create_query(api, "SELECT Id, IsDeleted FROM Contact")
    all_job = create_query(api, "SELECT Id, IsDeleted FROM Contact", operation="queryAll")
    api.wait(query_job["id"], kind="query")
    api.wait(all_job["id"], kind="query")

    assert rows(api.request("GET", f"{API}/jobs/query/{query_job['id']}/results").text)[1:] == [
        [kept, "false"]
    ]
    assert rows(api.request("GET", f"{API}/jobs/query/{all_job['id']}/results").text)[1:] == [
        [kept, "false"],
        [deleted, "true"],
    ]


def test_query_with_unknown_field_or_object_is_rejected(salesforce_emulator):
    api = Api(salesforce_emulator)

    field = api.request(
        "POST", f"{API}/jobs/query", json={"operation": "query", "query": "SELECT Foo FROM Contact"}
    )
    entity = api.request(
        "POST", f"{API}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Nope"}
    )

    assert field.status_code == 400
    assert field.json()[0]["errorCode"] == "INVALID_FIELD"
    assert field.json()[0]["message"].startswith("No such column 'Foo' on entity 'Contact'.")
    assert entity.status_code == 400
    assert entity.json()[0]["errorCode"] == "INVALID_TYPE"


def test_query_jobs_need_api_47(salesforce_emulator):
    response = Api(salesforce_emulator).request(
        "POST",
        "/services/data/v46.0/jobs/query",
        json={"operation": "query", "query": "SELECT Id FROM Contact"},
    )

    assert response.status_code == 404


def test_rest_query_returns_records_with_attributes(salesforce_emulator):
    [record_id] = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Q", "Customer_Key__c": "K"}]
    )

    body = (
        Api(salesforce_emulator)
        .request("GET", f"{API}/query/", params={"q": "SELECT Id, LastName FROM Contact"})
        .json()
    )

    assert body == {
        "totalSize": 1,
        "done": True,
        "records": [
            {
                "attributes": {"type": "Contact", "url": f"{API}/sobjects/Contact/{record_id}"},
                "Id": record_id,
                "LastName": "Q",
            }
        ],
    }


# --- faults ----------------------------------------------------------------------------------


def test_injected_503_answers_the_next_matching_call_only(salesforce_emulator):
    salesforce_emulator.inject("http_error", status=503, path=r"/jobs/ingest$", method="POST")
    api = Api(salesforce_emulator)

    first = api.request(
        "POST", f"{API}/jobs/ingest", json={"object": "Contact", "operation": "insert"}
    )
    second = api.request(
        "POST", f"{API}/jobs/ingest", json={"object": "Contact", "operation": "insert"}
    )

    assert first.status_code == 503
    assert first.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert second.status_code == 200
    assert len(salesforce_emulator.jobs) == 1


def test_injected_errors_can_repeat(salesforce_emulator):
    salesforce_emulator.inject("http_error", status=500, path="/limits", times=2)
    api = Api(salesforce_emulator)

    statuses = [api.request("GET", f"{API}/limits/").status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_injected_timeout_outlasts_the_client_and_the_call_still_takes_effect(salesforce_emulator):
    salesforce_emulator.inject("timeout", seconds=1.5, path=r"/jobs/ingest$", method="POST")
    api = Api(salesforce_emulator)

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.post(
            f"{salesforce_emulator.url}{API}/jobs/ingest",
            json={"object": "Contact", "operation": "insert"},
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=0.3,
        )
    time.sleep(1.5)

    assert [job.state for job in salesforce_emulator.jobs] == ["Open"]


def test_injected_request_limit_is_403(salesforce_emulator):
    salesforce_emulator.inject("request_limit")
    api = Api(salesforce_emulator)

    response = api.request("GET", f"{API}/sobjects/Contact/describe")

    assert response.status_code == 403
    assert response.json() == [
        {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
    ]
    assert api.request("GET", f"{API}/sobjects/Contact/describe").status_code == 200


def test_injected_session_expiry_then_login_again_works(salesforce_emulator):
    token = xml_text(soap_login(salesforce_emulator), "sessionId")
    api = Api(salesforce_emulator, token=token)
    job = api.create_job(object="Contact", operation="insert")
    salesforce_emulator.inject("session_expired", path="/batches")

    expired = api.upload(job, "LastName\nA\n")
    still_expired = api.request("GET", f"{API}/jobs/ingest/{job['id']}")
    api.token = xml_text(soap_login(salesforce_emulator), "sessionId")
    uploaded = api.upload(job, "LastName\nA\n")

    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert still_expired.status_code == 401
    assert uploaded.status_code == 201


def test_injected_lock_errors_fail_the_next_rows(salesforce_emulator):
    salesforce_emulator.inject("unable_to_lock_row", times=2)
    api = Api(salesforce_emulator)

    info = api.run("LastName\nA\nB\nC\n", object="Contact", operation="insert")

    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 2)
    failed = rows(api.result(info["id"], "failedResults"))
    assert [row[2] for row in failed[1:]] == ["A", "B"]
    for row in failed[1:]:
        assert re.fullmatch(
            r"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: 003\w{15}:--",
            row[1],
        )
    assert [r["LastName"] for r in salesforce_emulator.records("Contact")] == ["C"]


def test_injected_lock_errors_can_pick_rows(salesforce_emulator):
    [existing] = salesforce_emulator.insert_records(
        "Contact", [{"LastName": "Old", "Customer_Key__c": "K-2"}]
    )
    salesforce_emulator.inject(
        "unable_to_lock_row", times=None, when=lambda row: row["Customer_Key__c"] == "K-2"
    )
    api = Api(salesforce_emulator)

    info = api.run(
        "Customer_Key__c,LastName\nK-1,A\nK-2,B\n",
        object="Contact",
        operation="upsert",
        externalIdFieldName="Customer_Key__c",
    )

    failed = rows(api.result(info["id"], "failedResults"))
    assert failed[1][:2] == [
        existing,
        f"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: {existing}:--",
    ]
    assert len(failed) == 2


def test_injected_job_failure_leaves_rows_unprocessed(salesforce_emulator):
    salesforce_emulator.inject(
        "job_failed", message="InternalServerError : retried 20 times", processed_rows=1
    )
    api = Api(salesforce_emulator)

    info = api.run("LastName\nA\nB\nC\n", object="Contact", operation="insert")

    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InternalServerError : retried 20 times"
    assert info["numberRecordsProcessed"] == 1
    assert len(rows(api.result(info["id"], "successfulResults"))) == 2
    assert api.result(info["id"], "unprocessedrecords") == "LastName\nB\nC\n"
    assert [r["LastName"] for r in salesforce_emulator.records("Contact")] == ["A"]


def test_upload_over_the_byte_limit_is_rejected(salesforce_emulator):
    salesforce_emulator.settings.max_upload_bytes = 20
    api = Api(salesforce_emulator)
    job = api.create_job(object="Contact", operation="insert")

    small = api.upload(api.create_job(object="Contact", operation="insert"), "LastName\nA\n")
    large = api.upload(job, "LastName\n" + "A\n" * 20)

    assert small.status_code == 201
    assert large.status_code == 400
    assert large.json()[0]["errorCode"] == "CLIENTINPUTERROR"


def test_upload_over_the_record_limit_is_rejected(salesforce_emulator):
    salesforce_emulator.settings.max_records_per_upload = 2
    api = Api(salesforce_emulator)

    two = api.upload(api.create_job(object="Contact", operation="insert"), "LastName\nA\nB\n")
    three = api.upload(api.create_job(object="Contact", operation="insert"), "LastName\nA\nB\nC\n")

    assert two.status_code == 201
    assert three.status_code == 400
    assert three.json()[0]["errorCode"] == "CLIENTINPUTERROR"


def test_requests_log_records_the_call_sequence(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run("LastName\nA\n", object="Contact", operation="insert")

    log = salesforce_emulator.requests_log
    assert log[:3] == [
        ("POST", f"{API}/jobs/ingest"),
        ("PUT", f"{API}/jobs/ingest/{info['id']}/batches"),
        ("PATCH", f"{API}/jobs/ingest/{info['id']}"),
    ]
    assert set(log[3:]) == {("GET", f"{API}/jobs/ingest/{info['id']}")}


def test_reset_forgets_records_jobs_and_faults(salesforce_emulator):
    salesforce_emulator.insert_records("Contact", [{"LastName": "A"}])
    salesforce_emulator.inject("request_limit", times=None)

    salesforce_emulator.reset()

    assert salesforce_emulator.records("Contact") == []
    assert salesforce_emulator.jobs == []
    assert Api(salesforce_emulator).request("GET", f"{API}/limits/").status_code == 200


def test_fixture_allows_and_trusts_the_emulator(salesforce_emulator, settings):
    import os

    assert salesforce_emulator.host in settings.SALESFORCE_ALLOWED_HOSTS
    assert os.environ["REQUESTS_CA_BUNDLE"] == salesforce_emulator.ca_path
    # A plain requests call with verification on, trusting what the environment says.
    response = requests.get(f"{salesforce_emulator.url}/services/data/", timeout=10)
    assert response.status_code == 200


def test_daily_request_allowance_runs_out(salesforce_emulator):
    salesforce_emulator.settings.daily_api_requests = 2
    api = Api(salesforce_emulator)

    responses = [api.request("GET", f"{API}/limits/") for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 403]
    assert responses[0].headers["Sforce-Limit-Info"] == "api-usage=1/2"
    assert responses[2].json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_lead_requires_company_and_defaults_status(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run(
        "LastName,Company,Status\nA,Acme,\nB,,\nC,Acme,Bogus\n", object="Lead", operation="insert"
    )

    failed = rows(api.result(info["id"], "failedResults"))
    assert [row[1] for row in failed[1:]] == [
        "REQUIRED_FIELD_MISSING:Required fields are missing: [Company]:Company --",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:bad value for restricted picklist field: Bogus:Status --",
    ]
    [lead] = salesforce_emulator.records("Lead")
    assert (lead["LastName"], lead["Status"], lead["Id"][:3]) == (
        "A",
        "Open - Not Contacted",
        "00Q",
    )


def test_text_checks_length_email_and_read_only_fields(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run(
        f"LastName,Email,Name\n{'x' * 81},,\nB,not-an-email,\nC,,Full Name\n",
        object="Contact",
        operation="insert",
    )

    failed = rows(api.result(info["id"], "failedResults"))
    assert [row[1] for row in failed[1:]] == [
        f"STRING_TOO_LONG:Last Name: data value too large: {'x' * 81} (max length=80):LastName --",
        "INVALID_EMAIL_ADDRESS:Email: invalid email address: not-an-email:Email --",
        "INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: Name. Please check the "
        "security settings of this field and verify that it is read/write for your profile or "
        "permission set.:Name --",
    ]


def test_update_clearing_a_required_field_fails(salesforce_emulator):
    [record_id] = salesforce_emulator.insert_records("Contact", [{"LastName": "Keep"}])
    api = Api(salesforce_emulator)

    info = api.run(f"Id,LastName\n{record_id},#N/A\n", object="Contact", operation="update")

    failed = rows(api.result(info["id"], "failedResults"))
    assert failed[1][:2] == [
        record_id,
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
    ]
    assert salesforce_emulator.records("Contact")[0]["LastName"] == "Keep"


def test_custom_object_upsert_stores_typed_values(salesforce_emulator):
    api = Api(salesforce_emulator)

    info = api.run(
        "Customer_Key__c,Name,Email__c,Segment_Name__c,Exported_At__c,Lifetime_Value__c,Consent__c\n"
        "K-1,Ada,ada@example.com,VIP,2024-03-01T09:30:00+09:00,1234.5,true\n",
        object="Audience_Member__c",
        operation="upsert",
        externalIdFieldName="Customer_Key__c",
    )

    assert info["numberRecordsFailed"] == 0
    [member] = salesforce_emulator.records("Audience_Member__c")
    assert member["Id"].startswith("a0A")
    assert member["Exported_At__c"] == "2024-03-01T00:30:00.000+0000"
    assert (member["Lifetime_Value__c"], member["Consent__c"]) == (1234.5, True)


def test_salesforce_connection_fixture_points_at_the_emulator(
    salesforce_connection, salesforce_emulator
):
    assert salesforce_connection.pk is not None
    assert salesforce_connection.login_url == salesforce_emulator.url
    assert salesforce_connection.username == salesforce_emulator.username
