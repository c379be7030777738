"""Profile uploads: capped line length (a 400 naming the line, memory flat however long the
line), MAX_UPLOAD_BYTES counted while the body streams, and a header-only file in replace
mode refused unless confirmed."""

import io
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from knox.models import AuthToken
from rest_framework.test import APIClient

from segments.models import Profile

HEADER = b"customer_id,email,country\n"


def api_client_for(user) -> APIClient:
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def post_through_wsgi(path: str, body_file, length: int, token: str) -> tuple[str, bytes]:
    """The request as a web worker receives it: the body read from a stream, never held."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "mode=replace",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "text/csv",
        "CONTENT_LENGTH": str(length),
        "HTTP_AUTHORIZATION": f"Token {token}",
        "HTTP_ACCEPT": "application/json",
        "wsgi.input": body_file,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    status = []
    chunks = WSGIHandler()(environ, lambda code, headers: status.append(code))
    return status[0], b"".join(chunks)


@pytest.mark.usefixtures("keep_the_test_transaction_open")
def test_a_very_long_line_is_a_400_naming_it_and_memory_stays_flat(team, tmp_path):
    parent = team["parent"]
    line_bytes = 48 * 1024 * 1024  # the report's 1 GB line, scaled down
    path = tmp_path / "long-line.csv"
    with path.open("wb") as file:
        file.write(HEADER + b"C100,ok@example.com,JP\n")
        file.write(b"C101,")
        chunk = b"x" * (1024 * 1024)
        for _ in range(line_bytes // len(chunk)):
            file.write(chunk)
        file.write(b",JP\n")
    _, token = AuthToken.objects.create(user=team["owner"])

    tracemalloc.start()
    try:
        with path.open("rb") as body:
            status, content = post_through_wsgi(
                f"/api/v1/parent-segments/{parent.pk}/profiles/",
                body,
                path.stat().st_size,
                token,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert status.startswith("400"), content
    assert b'"line":3' in content.replace(b" ", b"")
    assert b"the line is longer than 1,048,576 bytes" in content
    # The worker held at most a few MB (the 1 MB line cap and buffers), not the 48 MB line.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MB"
    assert Profile.objects.filter(parent_segment=parent).count() == 3  # unchanged


def post_csv(team, body: bytes):
    """The owner's API upload of `body` as a text/csv profiles file of the team's parent."""
    return api_client_for(team["owner"]).post(
        f"/api/v1/parent-segments/{team['parent'].pk}/profiles/", body, content_type="text/csv"
    )


def test_a_long_row_spread_over_quoted_lines_is_refused_too(team, settings):
    settings.MAX_CSV_LINE_BYTES = 1000
    body = HEADER + b'C200,"' + b"short line\n" * 200 + b'",JP\n'
    response = post_csv(team, body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["line"] > 2
    assert "the row is longer than 1,000 bytes" in error["message"]


def test_a_field_over_the_csv_field_limit_names_its_line(team):
    body = HEADER + b'C300,"' + b"y" * 140_000 + b'",JP\n'
    response = post_csv(team, body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["line"] == 2
    assert "field larger than field limit" in error["message"]


def test_api_upload_over_max_upload_bytes_is_a_413(team, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    client = api_client_for(team["owner"])
    body = HEADER + b"".join(b"C%04d,a@example.com,JP\n" % n for n in range(100))
    response = client.post(
        f"/api/v1/parent-segments/{team['parent'].pk}/profiles/", body, content_type="text/csv"
    )
    assert response.status_code == 413
    assert "larger than 1,000 bytes (MAX_UPLOAD_BYTES)" in response.json()["detail"]
    multipart = client.post(
        f"/api/v1/parent-segments/{team['parent'].pk}/profiles/",
        {"file": SimpleUploadedFile("big.csv", body, content_type="text/csv")},
        format="multipart",
    )
    assert multipart.status_code == 413
    assert Profile.objects.filter(parent_segment=team["parent"]).count() == 3


def test_ui_upload_over_max_upload_bytes_says_so(owner_client, team, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    body = HEADER + b"".join(b"C%04d,a@example.com,JP\n" % n for n in range(100))
    response = owner_client.post(
        f"/audience/{team['parent'].pk}/upload/",
        {"file": SimpleUploadedFile("big.csv", body), "mode": "replace"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["form_errors"]["file"][0]["message"] == (
        "The file is larger than 1,000 bytes (MAX_UPLOAD_BYTES)."
    )


def test_header_only_file_in_replace_mode_needs_allow_empty_in_the_api(team):
    client = api_client_for(team["owner"])
    url = f"/api/v1/parent-segments/{team['parent'].pk}/profiles/"

    refused = client.post(url, HEADER, content_type="text/csv")
    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert "no rows: replacing would delete all 3 rows" in error["message"]
    assert Profile.objects.filter(parent_segment=team["parent"]).count() == 3

    assert client.post(url + "?allow_empty=maybe", HEADER, content_type="text/csv").json() == {
        "allow_empty": ["Must be true or false."]
    }
    emptied = client.post(url + "?allow_empty=true", HEADER, content_type="text/csv")
    assert emptied.status_code == 200
    assert Profile.objects.filter(parent_segment=team["parent"]).count() == 0


def test_header_only_file_in_upsert_mode_changes_nothing_and_is_fine(team):
    client = api_client_for(team["owner"])
    url = f"/api/v1/parent-segments/{team['parent'].pk}/profiles/?mode=upsert"
    assert client.post(url, HEADER, content_type="text/csv").status_code == 200
    assert Profile.objects.filter(parent_segment=team["parent"]).count() == 3


@pytest.mark.parametrize(("checked", "expected_rows"), [(False, 3), (True, 0)])
def test_header_only_file_in_replace_mode_needs_the_checkbox_in_the_ui(
    owner_client, team, checked, expected_rows
):
    data = {"file": SimpleUploadedFile("empty.csv", HEADER), "mode": "replace"}
    if checked:
        data["allow_empty"] = "on"
    page = owner_client.get(f"/audience/{team['parent'].pk}/").content.decode()
    assert 'name="allow_empty"' in page

    response = owner_client.post(f"/audience/{team['parent'].pk}/upload/", data)

    assert response.status_code == (302 if checked else 400)
    assert Profile.objects.filter(parent_segment=team["parent"]).count() == expected_rows
