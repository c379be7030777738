"""The base serializer of our API: unknown fields are an error, not ignored."""

from collections.abc import Mapping

from rest_framework import serializers

UNKNOWN_FIELD = "unknown field"


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not know ("unknown field").

    Read-only fields are known: a client may send back what it read.
    """

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {
                key: [UNKNOWN_FIELD]
                for key in data
                if not isinstance(key, str) or key not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value
