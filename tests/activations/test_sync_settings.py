"""`export.sync` and `export.on_leave`: defaults, and the errors that say which combinations
cannot work (keyed `export.on_leave`)."""

import pytest

from activations import services
from tests.activations.test_services import errors_of, valid_payload, with_changes
from tests.factories import make_connection, make_parent_segment, make_segment, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return make_workspace()


@pytest.fixture
def segment(workspace):
    return make_segment(parent=make_parent_segment(workspace=workspace), name="Japan")


@pytest.fixture
def connection(workspace):
    return make_connection(workspace=workspace)


def test_sync_defaults_to_full_and_on_leave_to_ignore(workspace, segment, connection):
    data = valid_payload(segment, connection)
    del data["export"]["sync"], data["export"]["on_leave"]

    activation = services.create_activation(workspace=workspace, data=data)

    export = services.activation_payload(activation)["export"]
    assert (export["sync"], export["on_leave"]) == ("full", "ignore")


@pytest.mark.parametrize(
    "export",
    [
        {"sync": "incremental", "on_leave": "delete"},  # upsert on an External ID
        {"sync": "incremental", "on_leave": "delete", "upsert": False, "key": "Id"},
        {"sync": "incremental", "on_leave": "clear", "upsert": False, "key": "Email"},
        {"sync": "incremental", "mode": "append", "key": "", "upsert": False},
        {"sync": "incremental", "mode": "truncate", "key": "", "upsert": False},
    ],
)
def test_valid_sync_settings_are_stored(workspace, segment, connection, export):
    mapping = {"export_all_columns": True, "columns": [{"source": "email", "output": "Id"}]}
    data = with_changes(valid_payload(segment, connection), "export", **export)
    if export.get("key") == "Id":
        data["output_mapping"] = mapping

    activation = services.create_activation(workspace=workspace, data=data)

    assert activation.sync == "incremental"
    assert activation.on_leave == export.get("on_leave", "ignore")


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ({"sync": "sometimes"}, {"export.sync": ["Must be one of: full, incremental."]}),
        (
            {"sync": "incremental", "on_leave": "forget"},
            {"export.on_leave": ["Must be one of: ignore, delete, clear."]},
        ),
        ({"sync": "full", "on_leave": "delete"}, "needs incremental sync"),
        (
            {
                "sync": "incremental",
                "on_leave": "clear",
                "mode": "append",
                "key": "",
                "upsert": False,
            },
            "needs update mode",
        ),
        (
            {"sync": "incremental", "on_leave": "delete", "upsert": False, "key": "Email"},
            "needs a key that identifies one record",
        ),
    ],
)
def test_impossible_sync_settings_are_refused_on_their_path(
    workspace, segment, connection, export, message
):
    data = with_changes(valid_payload(segment, connection), "export", **export)

    errors = errors_of(data, workspace=workspace)

    if isinstance(message, dict):
        assert errors == message
    else:
        assert list(errors) == ["export.on_leave"]
        assert message in errors["export.on_leave"][0]


def test_switching_to_append_drops_an_unsent_on_leave(workspace, segment, connection):
    data = with_changes(
        valid_payload(segment, connection), "export", sync="incremental", on_leave="delete"
    )
    activation = services.create_activation(workspace=workspace, data=data)

    services.update_activation(
        activation, data={"export": {"mode": "append", "key": "", "upsert": False}}
    )

    activation.refresh_from_db()
    assert (activation.mode, activation.sync, activation.on_leave) == (
        "append",
        "incremental",
        "ignore",
    )
