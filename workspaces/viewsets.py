"""Viewsets over workspace-owned models: scoped lookups and role-checked, atomic writes."""

from collections.abc import Mapping

from django.db import transaction
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from common.api.pagination import PageNumberPagination
from common.api.parsers import StrictJSONParser
from common.ids import parse_id
from workspaces.fields import WorkspaceField
from workspaces.models import Membership, Workspace, ensure_personal_workspace, workspaces_of
from workspaces.permissions import WorkspaceRolePermission


class WorkspaceScopedViewSetMixin:
    """A viewset over a model with a `workspace` foreign key.

    Lists and lookups only ever see the user's workspaces (others' objects are 404); a user
    with no workspace gets a personal one on first use. WorkspaceScopedModelViewSet adds the
    writes: creating resolves the workspace (given, or the user's only one) and needs the
    owner or editor role in it; writes run in one transaction, so a rejected request changes
    nothing.
    """

    model: type | None = None  # the workspace-owned model
    permission_classes = [WorkspaceRolePermission]
    parser_classes = [StrictJSONParser]
    pagination_class = PageNumberPagination
    read_only_actions: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.user.is_authenticated:
            ensure_personal_workspace(request.user)

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)

    def get_object(self):
        # An id in the URL that is no id (`²`, `1e400`, 30 digits) names nothing: 404, not
        # the database's ValueError or overflow.
        lookup = self.lookup_url_kwarg or self.lookup_field
        if lookup in self.kwargs and parse_id(self.kwargs[lookup]) is None:
            raise exceptions.NotFound(f"No object with id {self.kwargs[lookup]!r}.")
        return super().get_object()

    def workspace_id_of(self, obj) -> int:
        return obj.workspace_id

    def resolve_workspace(self, data) -> Workspace:
        """The workspace a new object goes to, which the user must be able to write to."""
        value = data.get("workspace") if isinstance(data, Mapping) else None
        user = self.request.user
        if value is None:
            workspaces = list(workspaces_of(user)[:2])
            if len(workspaces) > 1:
                raise exceptions.ValidationError(
                    {"workspace": ["Required: you belong to several workspaces."]}
                )
            workspace = workspaces[0] if workspaces else ensure_personal_workspace(user)
        else:
            if isinstance(value, bool):
                raise exceptions.ValidationError({"workspace": ["A valid integer is required."]})
            try:
                value = WorkspaceField().run_validation(value)
            except exceptions.ValidationError as invalid:
                raise exceptions.ValidationError({"workspace": invalid.detail}) from None
            workspace = workspaces_of(user).filter(pk=value).first()
            if workspace is None:
                raise exceptions.ValidationError(
                    {"workspace": [f"No workspace {value} among yours."]}
                )
        role = workspace.role_of(user)
        if role not in Membership.WRITE_ROLES:
            raise exceptions.PermissionDenied(
                f"You have the {role} role in workspace {workspace.pk}: "
                "creating needs the owner or editor role."
            )
        return workspace


class WorkspaceScopedModelViewSet(WorkspaceScopedViewSetMixin, viewsets.ModelViewSet):
    """A full CRUD viewset over a workspace-owned model; perform_* hooks call the services."""

    def create(self, request, *args, **kwargs):
        self.workspace = self.resolve_workspace(request.data)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            self.perform_create(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        self.workspace = instance.workspace
        data = request.data
        given = data.get("workspace") if isinstance(data, Mapping) else None
        if given is not None and str(given) != str(instance.workspace_id):
            raise exceptions.ValidationError(
                {"workspace": ["Cannot be changed: create a copy in the other workspace."]}
            )
        serializer = self.get_serializer(instance, data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            self.perform_update(serializer)
        return Response(serializer.data)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        with transaction.atomic():
            self.perform_destroy(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)
