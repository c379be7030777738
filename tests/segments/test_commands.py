"""The import_profiles and seed_demo management commands."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from activations.models import Activation, Run
from activations.services import request_run
from connectors.models import Connection
from demo.management.commands.seed_demo import COLUMNS, SEGMENTS
from segments import audience
from segments.models import ParentSegment, Profile, Segment
from tests.factories import make_parent_segment, make_workspace
from workspaces.models import Membership, Workspace


def run_command(*args, **options) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def parent(db):
    return make_parent_segment(workspace=make_workspace())


def write(tmp_path, text: str):
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_profiles_loads_a_file_by_parent_id(parent, tmp_path):
    path = write(tmp_path, "customer_id,age\nc1,30\nc2,41\n")

    stdout, _ = run_command("import_profiles", str(parent.pk), path)

    assert stdout == (
        f"Imported 2 rows into 'Customers' (id {parent.pk}, mode replace); it now has 2 rows.\n"
    )
    assert sorted(Profile.objects.values_list("key", flat=True)) == ["c1", "c2"]


def test_import_profiles_finds_the_parent_by_name_and_upserts(parent, tmp_path):
    run_command("import_profiles", "Customers", write(tmp_path, "customer_id,age\nc1,30\n"))

    stdout, _ = run_command(
        "import_profiles", "Customers", write(tmp_path, "customer_id,age\nc2,41\n"), mode="upsert"
    )

    assert stdout == (
        f"Imported 1 rows into 'Customers' (id {parent.pk}, mode upsert); it now has 2 rows.\n"
    )
    assert sorted(Profile.objects.values_list("key", flat=True)) == ["c1", "c2"]


def test_import_profiles_lists_the_errors_and_fails_without_changing_anything(parent, tmp_path):
    run_command("import_profiles", str(parent.pk), write(tmp_path, "customer_id\nkept\n"))
    stderr = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command(
            "import_profiles",
            str(parent.pk),
            write(tmp_path, "customer_id,age\nc1,x\nc1,2\n"),
            stdout=io.StringIO(),
            stderr=stderr,
        )

    assert str(caught.value).startswith("/")
    assert str(caught.value).endswith(
        f"rows.csv has 2 error(s); 'Customers' (id {parent.pk}) was not changed."
    )
    assert stderr.getvalue() == (
        "line 2, column age: 'x' is not an integer\n"
        "line 3, column customer_id: duplicate key 'c1' (first on line 2)\n"
    )
    assert list(Profile.objects.values_list("key", flat=True)) == ["kept"]


def test_import_profiles_says_how_many_errors_it_did_not_list(parent, tmp_path):
    lines = ["customer_id,age"] + [f"c{number},x" for number in range(105)]
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="has 105 error"):
        call_command(
            "import_profiles", str(parent.pk), write(tmp_path, "\n".join(lines)), stderr=stderr
        )

    assert stderr.getvalue().splitlines()[-1] == "... and 5 more"


def test_import_profiles_refuses_an_unknown_or_ambiguous_parent(parent, tmp_path):
    make_parent_segment(workspace=make_workspace("Other"))
    path = write(tmp_path, "customer_id\nc1\n")

    with pytest.raises(CommandError, match="^No parent segment has the id or name 'Nobody'.$"):
        call_command("import_profiles", "Nobody", path)
    with pytest.raises(CommandError, match="^Several parent segments are named 'Customers'"):
        call_command("import_profiles", "Customers", path)


def test_import_profiles_reports_a_missing_file(parent, tmp_path):
    with pytest.raises(
        CommandError, match="^Cannot read .*missing.csv: No such file or directory$"
    ):
        call_command("import_profiles", str(parent.pk), str(tmp_path / "missing.csv"))


def demo_counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "workspaces": Workspace.objects.count(),
        "memberships": Membership.objects.count(),
        "parents": ParentSegment.objects.count(),
        "profiles": Profile.objects.count(),
        "segments": Segment.objects.count(),
        "connections": Connection.objects.count(),
        "activations": Activation.objects.count(),
    }


def test_seed_demo_creates_demo_data_once(db, monkeypatch):
    monkeypatch.delenv("SEED_DEMO_SALESFORCE_URL", raising=False)

    first_output, _ = run_command("seed_demo", rows=2000)
    first = demo_counts()
    first_rows = dict(Profile.objects.values_list("key", "attributes"))
    second_output, _ = run_command("seed_demo", rows=2000)

    assert first == {
        "users": 1,
        "workspaces": 1,
        "memberships": 1,
        "parents": 1,
        "profiles": 2000,
        "segments": len(SEGMENTS),
        "connections": 0,
        "activations": 0,
    }
    assert demo_counts() == first
    assert dict(Profile.objects.values_list("key", "attributes")) == first_rows
    assert "Created user 'demo' with password 'demo'" in first_output
    assert "User 'demo' exists (password unchanged)." in second_output
    assert "Segments: 0 created, 6 already there." in second_output
    user = User.objects.get()
    assert user.check_password("demo")
    workspace = Workspace.objects.get()
    assert workspace.name == "Demo"
    assert workspace.role_of(user) == "owner"
    parent = ParentSegment.objects.get()
    assert parent.columns == COLUMNS
    assert parent.row_count == 2000


def test_seed_demo_segments_all_have_members(db, monkeypatch):
    monkeypatch.delenv("SEED_DEMO_SALESFORCE_URL", raising=False)

    run_command("seed_demo", rows=2000)

    sizes = {f"{s.folder}/{s.name}": audience.size(s) for s in Segment.objects.all()}
    assert set(sizes) == {f"{folder}/{name}" for folder, name, _, _ in SEGMENTS}
    assert all(0 < size < 2000 for size in sizes.values()), sizes


def test_seed_demo_uses_the_named_workspace(db, monkeypatch):
    monkeypatch.delenv("SEED_DEMO_SALESFORCE_URL", raising=False)

    run_command("seed_demo", rows=10, workspace="Sandbox")

    assert list(Workspace.objects.values_list("name", flat=True)) == ["Sandbox"]
    assert ParentSegment.objects.get().workspace.name == "Sandbox"


def test_seed_demo_with_an_emulator_creates_activations_that_run(
    db, monkeypatch, salesforce_emulator, django_capture_on_commit_callbacks
):
    monkeypatch.setenv("SEED_DEMO_SALESFORCE_URL", salesforce_emulator.url)

    output, _ = run_command("seed_demo", rows=300)
    run_command("seed_demo", rows=300)

    assert "Activations: 2 created." in output
    connection = Connection.objects.get()
    assert connection.login_url == salesforce_emulator.url
    assert connection.username == "marketer@example.com"
    assert Activation.objects.count() == 2
    activation = Activation.objects.get(name="High value customers to Contacts")
    with django_capture_on_commit_callbacks(execute=True):
        run = request_run(activation=activation, trigger=Run.Trigger.MANUAL)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    members = audience.size(activation.segment)
    assert members > 0
    assert (run.rows_read, run.rows_succeeded, run.rows_failed) == (members, members, 0)
    contacts = salesforce_emulator.records("Contact")
    assert len(contacts) == members
    assert all(
        contact["Description"].startswith("Segment High value consenting customers, exported ")
        for contact in contacts
    )


def test_seed_demo_skips_activations_when_the_login_host_is_not_allowed(db, monkeypatch):
    monkeypatch.setenv("SEED_DEMO_SALESFORCE_URL", "https://127.0.0.1:1")

    output, _ = run_command("seed_demo", rows=10)

    assert "No connection or activations: the connection was refused (login_url:" in output
    assert Connection.objects.count() == 0
    assert Activation.objects.count() == 0


def test_seed_demo_adds_a_source_backed_parent_segment(db, monkeypatch, settings, tmp_path):
    monkeypatch.delenv("SEED_DEMO_SALESFORCE_URL", raising=False)
    settings.SOURCE_FILE_ROOT = str(tmp_path)

    output, _ = run_command("seed_demo", rows=10)
    run_command("seed_demo", rows=10)

    shop = ParentSegment.objects.get(name="Shop customers")
    assert shop.source.url == "sqlite:///demo_shop.db"
    assert shop.row_count == 200
    assert shop.refresh_schedule_type == "daily"
    assert shop.refreshes.filter(status="succeeded").count() == 2
    assert {"name": "newsletter", "type": "boolean"} in shop.columns
    assert "Refreshed 'Shop customers': succeeded, 200 rows." in output
