"""API shapes of parent segments, segments and CSV imports; the services validate meaning."""

from rest_framework import serializers

from common.api import StrictSerializer, WorkspaceField, WorkspaceRelatedField
from segments import audience
from segments.models import ColumnType, ParentSegment


class ColumnSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=ColumnType.choices)


class ParentSegmentSerializer(StrictSerializer):
    """A customer master table; its id is the "Audience ID"."""

    id = serializers.IntegerField(read_only=True)
    workspace = WorkspaceField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)
    key_column = serializers.CharField(max_length=100)
    columns = ColumnSerializer(many=True, help_text="The typed columns; the key column is one.")
    row_count = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="1-based line of the file; the header is line 1.")
    column = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    """The outcome of a CSV upload: a file with any error imports nothing."""

    rows_imported = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True, help_text="The first errors found (at most 100).")
    error_count = serializers.IntegerField(help_text="How many errors the file has in all.")


class ProfileUploadSerializer(serializers.Serializer):
    """Multipart form of a CSV upload (a `text/csv` body works too)."""

    file = serializers.FileField(help_text="The CSV file; its header names the columns.")


class SegmentSerializer(StrictSerializer):
    """An audience: the parent segment's profiles matching the rule tree."""

    id = serializers.IntegerField(read_only=True)
    workspace = WorkspaceField()
    parent_segment = WorkspaceRelatedField(ParentSegment)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)
    folder = serializers.CharField(allow_blank=True, required=False, max_length=200)
    rules = serializers.JSONField(
        required=False,
        help_text=(
            'A tree of groups {"type": "and"|"or", "conditions": [...]} and conditions '
            '{"column", "operator", "value"}; an empty "and" group matches every row.'
        ),
    )
    size = serializers.SerializerMethodField(help_text="How many profiles match, counted now.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_size(self, segment) -> int:
        return audience.size(segment)
