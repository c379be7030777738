"""API shape of sources: the password and secret options are write-only."""

from rest_framework import serializers

from common.api.serializers import StrictSerializer
from workspaces.fields import WorkspaceField


class SourceSecretsSerializer(serializers.Serializer):
    """Which secrets are stored (never their values)."""

    password = serializers.BooleanField()
    options = serializers.BooleanField(help_text="Whether any secret option is stored.")


class OptionsField(serializers.JSONField):
    """Connection options: a response shows a secret option (a name containing password,
    secret, token, private_key, credentials or key_file) as true, never its value."""

    def get_attribute(self, instance):
        return {**instance.options, **{name: True for name in instance.secret_option_values()}}


class SourceSerializer(StrictSerializer):
    """A saved, read-only connection to a database (a SQLAlchemy URL)."""

    id = serializers.IntegerField(read_only=True)
    workspace = WorkspaceField()
    name = serializers.CharField(max_length=200)
    url = serializers.CharField(
        max_length=2000,
        help_text=(
            "SQLAlchemy URL, e.g. postgresql://user@host:5432/db or sqlite:///customers.db "
            "(a file under SOURCE_FILE_ROOT); answered without the password."
        ),
    )
    kind = serializers.CharField(read_only=True, help_text="The dialect, e.g. postgresql.")
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        max_length=10_000,
        help_text="Write-only; blank or left out on update keeps the stored one.",
    )
    options = OptionsField(required=False, help_text="Driver options (URL query parameters).")
    secrets = SourceSecretsSerializer(source="secrets_set", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class SourceTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(required=False)


class SourceColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()


class SourceTableSerializer(serializers.Serializer):
    name = serializers.CharField(help_text='"schema.table"')
    kind = serializers.CharField(help_text="table or view")
    columns = SourceColumnSerializer(many=True)


class SourceSampleSerializer(serializers.Serializer):
    """The first rows of a table or query, and the parent-segment columns proposed for it."""

    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField()))
    inferred_columns = SourceColumnSerializer(many=True)
