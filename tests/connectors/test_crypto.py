"""Secrets at rest: encrypted in the database, readable with any configured key, rotatable."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection as db

from connectors.models import Connection
from tests.factories import make_app_connection, make_connection, make_workspace

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def stored(pk, column: str) -> str:
    with db.cursor() as cursor:
        query = f"SELECT {column} FROM connectors_connection WHERE id = %s"  # noqa: S608
        cursor.execute(query, [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_secrets_are_stored_encrypted_and_read_back_in_clear(settings):
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    connection = make_connection(workspace=make_workspace(), password="hunter2")

    raw = stored(connection.pk, "password")

    assert "hunter2" not in raw
    assert Fernet(OLD_KEY.encode()).decrypt(raw.encode()) == b"hunter2"
    assert Connection.objects.get(pk=connection.pk).password == "hunter2"


@pytest.mark.django_db
def test_blank_secret_stays_blank(settings):
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    connection = make_connection(workspace=make_workspace(), security_token="")

    assert stored(connection.pk, "security_token") == ""
    assert Connection.objects.get(pk=connection.pk).security_token == ""


@pytest.mark.django_db
def test_a_secret_whose_key_is_gone_cannot_be_read(settings):
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    connection = make_connection(workspace=make_workspace())
    settings.ENCRYPTION_KEYS = [NEW_KEY]

    with pytest.raises(ImproperlyConfigured, match="key is missing from ENCRYPTION_KEYS"):
        Connection.objects.get(pk=connection.pk)


@pytest.mark.django_db
def test_rotate_secrets_reencrypts_with_the_first_key(settings, capsys):
    # given secrets encrypted with the old key
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    workspace = make_workspace()
    first = make_connection(workspace=workspace, password="hunter2", security_token="TOKEN123")
    second = make_app_connection(
        workspace=workspace,
        name="Client credentials",
        auth_method="client_credentials",
        client_id="id",
        client_secret="s3cret",
    )
    updated_at = Connection.objects.get(pk=first.pk).updated_at

    # when the new key goes first and the secrets are rotated
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_secrets")

    # then only the new key is needed
    assert capsys.readouterr().out == "Re-encrypted 3 secrets in 2 rows.\n"
    settings.ENCRYPTION_KEYS = [NEW_KEY]
    reloaded = Connection.objects.get(pk=first.pk)
    assert (reloaded.password, reloaded.security_token) == ("hunter2", "TOKEN123")
    assert Connection.objects.get(pk=second.pk).client_secret == "s3cret"
    assert Fernet(NEW_KEY.encode()).decrypt(stored(first.pk, "password").encode()) == b"hunter2"
    assert stored(second.pk, "password") == ""
    assert reloaded.updated_at == updated_at
