"""API shapes of parent segments, segments and CSV imports; the services validate meaning."""

import copy

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from common.api.serializers import StrictSerializer
from segments import audience, backing, live, rules
from segments.models import ColumnType, ParentSegment, Refresh, Storage
from workspaces.fields import WorkspaceField, WorkspaceRelatedField

RULE_CONDITION_SCHEMA = {
    "type": "object",
    "description": (
        "A condition on a parent-segment column. `value`: a list for in/not_in, [low, high] "
        "for between (inclusive), a number of days for within_last_days, a date for "
        "before/after, none for is_null/is_not_null, else one value of the column's type."
    ),
    "properties": {
        "column": {"type": "string"},
        "operator": {"type": "string", "enum": list(rules.OPERATORS)},
        "value": {"nullable": True, "description": "Depends on the operator (see above)."},
    },
    "required": ["column", "operator"],
    "additionalProperties": False,
}


class RulesField(serializers.JSONField):
    """A segment's rule tree (validated by segments.rules, which names the failing path)."""


class RulesFieldSchema(OpenApiSerializerFieldExtension):
    """Documents the rule tree as a RuleGroup of RuleConditions and nested groups.

    Not recursive on purpose: a self-referencing schema sends schema-driven generators
    (schemathesis, some client generators) into unbounded recursion, so a nested group's
    own conditions are described in words, as objects of the same two kinds.
    """

    target_class = RulesField

    def get_name(self):
        return "RuleGroup"

    def map_serializer_field(self, auto_schema, direction):
        group_type = register(
            auto_schema, "RuleGroupType", {"type": "string", "enum": list(rules.GROUP_TYPES)}
        )
        condition = register(auto_schema, "RuleCondition", RULE_CONDITION_SCHEMA)
        nested = register(
            auto_schema, "NestedRuleGroup", group_schema(group_type, {"type": "object"})
        )
        return group_schema(group_type, {"oneOf": [condition.ref, nested.ref]})


def group_schema(group_type: ResolvedComponent, items: dict) -> dict:
    return {
        "type": "object",
        "description": (
            'A group {"type": "and" | "or", "conditions": [...]} of conditions and nested '
            'groups (each a RuleCondition or a group of this shape); an empty "and" group '
            "matches every row."
        ),
        "properties": {
            "type": group_type.ref,
            "conditions": {"type": "array", "items": items},
        },
        "required": ["type", "conditions"],
        "additionalProperties": False,
    }


def register(auto_schema, name: str, schema: dict) -> ResolvedComponent:
    component = ResolvedComponent(
        name=name,
        type=ResolvedComponent.SCHEMA,
        # A copy: the schema's post-processing rewrites enums in place.
        schema=copy.deepcopy(schema),
        object=name,
    )
    auto_schema.registry.register_on_missing(component)
    return component


class SourceBackingField(serializers.JSONField):
    """The parent's source and table or query (validated by segments.backing)."""

    def get_attribute(self, parent):
        if parent.source_id is None:
            return None
        if parent.source_query:
            found = {"source": parent.source_id, "query": parent.source_query}
        else:
            found = {"source": parent.source_id, "table": parent.source_table}
        return {**found, "storage": parent.storage}


class RefreshSettingsField(serializers.JSONField):
    """Refresh mode and schedule (validated by segments.backing), with the next run times."""

    def get_attribute(self, parent):
        return backing.refresh_settings(parent)


class RefreshSerializer(serializers.Serializer):
    """One copy of a source's rows into a parent segment's profiles."""

    id = serializers.IntegerField(read_only=True)
    parent_segment = serializers.IntegerField(source="parent_segment_id", read_only=True)
    status = serializers.ChoiceField(choices=Refresh.Status.choices, read_only=True)
    trigger = serializers.ChoiceField(choices=Refresh.Trigger.choices, read_only=True)
    mode = serializers.CharField(read_only=True)
    rows_read = serializers.IntegerField(read_only=True)
    rows_imported = serializers.IntegerField(read_only=True)
    error = serializers.CharField(read_only=True)
    scheduled_for = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)


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
    columns = ColumnSerializer(
        many=True,
        required=False,
        help_text=(
            "The typed columns; the key column is one. With a source it may be left out: the "
            "source's columns and types are inferred."
        ),
    )
    row_count = serializers.IntegerField(read_only=True)
    source = SourceBackingField(
        required=False,
        allow_null=True,
        help_text=(
            'Rows from a source: {"source": <id>, "table": "schema.table"} or '
            '{"source": <id>, "query": "SELECT …"}, with "storage": "imported" (the default: '
            'copied by refreshes) or "live" (read in the source at each use); null for CSV '
            "uploads."
        ),
    )
    storage = serializers.ChoiceField(choices=Storage.choices, required=False)
    refresh = RefreshSettingsField(
        required=False,
        help_text=(
            'How refreshes copy the source\'s rows: {"mode": "replace"|"upsert", '
            '"schedule": {"type": "none"|"hourly"|"daily"|"cron", "cron", "timezone"}}.'
        ),
    )
    notify_emails = serializers.ListField(
        child=serializers.CharField(max_length=254),
        required=False,
        help_text="Who is mailed when a scheduled refresh fails.",
    )
    last_refresh = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_last_refresh(self, parent) -> dict | None:
        last = parent.refreshes.first()
        return RefreshSerializer(last).data if last else None


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="1-based line of the file; the header is line 1.")
    column = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    """The outcome of a CSV upload: a file with any error imports nothing."""

    rows_imported = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True, help_text="The first errors found (at most 100).")
    error_count = serializers.IntegerField(help_text="How many errors the file has in all.")


class CSVInferenceSerializer(serializers.Serializer):
    """Columns proposed for a CSV file, and the columns that could be its key."""

    columns = ColumnSerializer(many=True)
    key_candidates = serializers.ListField(
        child=serializers.CharField(),
        help_text="Columns whose sampled values are all present and distinct.",
    )
    rows_sampled = serializers.IntegerField()


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
    rules = RulesField(
        required=False,
        help_text=(
            'A tree of groups {"type": "and"|"or", "conditions": [...]} and conditions '
            '{"column", "operator", "value"}; an empty "and" group matches every row.'
        ),
    )
    size = serializers.SerializerMethodField(
        help_text=(
            "How many profiles match, counted now (for a live parent, in its source; null "
            "when that source cannot be read)."
        )
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_size(self, segment) -> int | None:
        try:
            return audience.size(segment)
        except live.LiveSourceError:
            # One unreadable source must not fail a whole list of segments.
            return None
