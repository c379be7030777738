"""Serializer fields for workspace-owned objects: the owning workspace, and references to
other objects the user can see."""

from rest_framework import serializers

from common.api.parsers import MAX_JSON_INTEGER
from common.ids import parse_id


class WorkspaceField(serializers.IntegerField):
    """The owning workspace's id; on create it may be left out (see resolve_workspace)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_JSON_INTEGER)
        kwargs.setdefault(
            "help_text",
            "The workspace's id. On create it may be left out when you belong to exactly one.",
        )
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return instance.workspace_id


class WorkspaceRelatedField(serializers.PrimaryKeyRelatedField):
    """The id of another owned object (a parent segment, say) the user can see; the service
    checks that it belongs to the same workspace."""

    def __init__(self, model, **kwargs):
        self.model = model
        kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return self.model.objects.none()
        return self.model.objects.visible_to(request.user)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str) and not (data.isascii() and data.isdigit()):
            self.fail("incorrect_type", data_type="str")
        pk = parse_id(data)
        if pk is None:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(pk)
