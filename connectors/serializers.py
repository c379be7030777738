"""API shape of connections: secrets are write-only, a response says only which are set."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from common.api.parsers import MAX_JSON_INTEGER
from common.api.serializers import StrictSerializer
from connectors.models import Connection
from connectors.registry import KIND_CHOICES
from workspaces.fields import WorkspaceField


class SecretField(serializers.CharField):
    """A secret: written as text, answered only as whether it is set (true or false).

    The value never leaves the server; in a response the field is a boolean, so a script
    reads `"password": true` where it wrote the password.
    """

    def to_representation(self, value) -> bool:
        return bool(value)

    def to_internal_value(self, data):
        # What a GET answered may be sent back as is: true/false is not a new secret, so it
        # counts as blank, which keeps the stored one.
        if isinstance(data, bool):
            return ""
        return super().to_internal_value(data)


class SecretFieldSchema(OpenApiSerializerFieldExtension):
    """Documents SecretField as a string in requests and a boolean in responses."""

    target_class = SecretField

    def map_serializer_field(self, auto_schema, direction):
        if direction == "request":
            return {"type": "string", "writeOnly": True, "maxLength": self.target.max_length}
        return {
            "type": "boolean",
            "readOnly": True,
            "description": "Whether it is set; the value itself is never returned.",
        }


def secret_field(label: str) -> SecretField:
    return SecretField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=10_000,
        help_text=(
            f"{label}; write-only: a response says only whether it is set (true or false). "
            "Left out or blank on update keeps the stored one."
        ),
    )


class SecretsSetSerializer(serializers.Serializer):
    """Which secrets are stored (never their values)."""

    password = serializers.BooleanField()
    security_token = serializers.BooleanField()
    client_secret = serializers.BooleanField()
    refresh_token = serializers.BooleanField()
    session_id = serializers.BooleanField()


class ConnectionSerializer(StrictSerializer):
    """A saved Salesforce login."""

    id = serializers.IntegerField(read_only=True)
    workspace = WorkspaceField()
    name = serializers.CharField(max_length=200)
    type = serializers.ChoiceField(choices=KIND_CHOICES, source="kind", required=False)
    login_url = serializers.CharField(
        max_length=500,
        required=False,
        help_text="Login host (login, test or My Domain); for Session ID, the instance URL.",
    )
    auth_method = serializers.ChoiceField(choices=Connection.AuthMethod.choices, required=False)
    username = serializers.CharField(max_length=255, required=False, allow_blank=True)
    password = secret_field("Password")
    security_token = secret_field("Security token (may also be appended to the password)")
    client_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    client_secret = secret_field("Connected app client secret")
    refresh_token = secret_field("OAuth refresh token")
    session_id = secret_field("Session ID")
    retry_initial_delay = serializers.FloatField(
        required=False, help_text="Seconds before the first retry (0-300); doubles each time."
    )
    retry_limit = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_JSON_INTEGER, help_text="0-10"
    )
    secrets = SecretsSetSerializer(source="secrets_set", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ConnectionTestSerializer(serializers.Serializer):
    """The outcome of logging in: {"ok": true} or {"ok": false, "error": "..."}."""

    ok = serializers.BooleanField()
    error = serializers.CharField(required=False)


class DestinationObjectSerializer(serializers.Serializer):
    """An object of the org that rows can be written to."""

    name = serializers.CharField()
    label = serializers.CharField()
    custom = serializers.BooleanField()
    createable = serializers.BooleanField()
    updateable = serializers.BooleanField()


class DestinationObjectsSerializer(serializers.Serializer):
    objects = DestinationObjectSerializer(many=True)


class DestinationFieldSerializer(serializers.Serializer):
    """A field of an object, with the flags the mapping editor shows."""

    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    external_id = serializers.BooleanField()
    id_lookup = serializers.BooleanField()
    createable = serializers.BooleanField()
    updateable = serializers.BooleanField()
    relationship_name = serializers.CharField(allow_blank=True)
    reference_to = serializers.ListField(child=serializers.CharField())
    accepts = serializers.ListField(child=serializers.CharField())


class DestinationFieldsSerializer(serializers.Serializer):
    object = serializers.CharField()
    fields = DestinationFieldSerializer(many=True)


class CatalogErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
