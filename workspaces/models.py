"""Workspace, Membership, and the queryset that scopes every owned object to a user."""

from django.conf import settings
from django.db import models


class Workspace(models.Model):
    """A team: the owner of parent segments, segments, connections and activations."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def role_of(self, user) -> str | None:
        membership = self.memberships.filter(user=user).first()
        return membership.role if membership else None


class Membership(models.Model):
    """A user's role in one workspace."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    # Roles that may create, change, delete and run objects.
    WRITE_ROLES = (Role.OWNER, Role.EDITOR)

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "user"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class WorkspaceQuerySet(models.QuerySet):
    """Scopes an owned model (one with a `workspace` foreign key) to what a user may see."""

    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(workspace__memberships__user=user)

    def writable_by(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(
            workspace__memberships__user=user,
            workspace__memberships__role__in=Membership.WRITE_ROLES,
        )


def workspaces_of(user):
    """The workspaces a user belongs to."""
    return Workspace.objects.filter(memberships__user=user)


def can_write(user, workspace: Workspace) -> bool:
    return Membership.objects.filter(
        user=user, workspace=workspace, role__in=Membership.WRITE_ROLES
    ).exists()


def ensure_personal_workspace(user) -> Workspace:
    """The user's only workspace, creating a personal one (as owner) if they have none."""
    workspace = workspaces_of(user).first()
    if workspace is None:
        workspace = Workspace.objects.create(name=f"{user.get_username()}'s workspace")
        Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.OWNER)
    return workspace
