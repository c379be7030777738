"""The API's permission by workspace role."""

from rest_framework import permissions

from workspaces.models import Membership


class WorkspaceRolePermission(permissions.BasePermission):
    """Members see their workspaces' objects; owners and editors change and run them.

    Objects outside the user's workspaces never reach this check: views scope their querysets
    with `visible_to`, so those are 404. Actions that change nothing but are POSTs (a preview,
    a connection test) are listed in the view's `read_only_actions`.
    """

    message = (
        "You have the viewer role in this workspace: you may look, but not change or run anything."
    )

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        if getattr(view, "action", None) in getattr(view, "read_only_actions", ()):
            return True
        return Membership.objects.filter(
            user=request.user,
            workspace_id=view.workspace_id_of(obj),
            role__in=Membership.WRITE_ROLES,
        ).exists()
