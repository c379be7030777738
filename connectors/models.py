"""Connection: a named, reusable login to a destination (the seed's "authentication")."""

from django.db import models
from django.db.models.functions import Lower

from common.crypto import EncryptedTextField
from workspaces.models import Workspace, WorkspaceQuerySet

from .registry import KIND_CHOICES, connector_class


class Connection(models.Model):
    """A saved Salesforce login. Secret fields are encrypted at rest and never shown back."""

    class AuthMethod(models.TextChoices):
        CREDENTIALS = "credentials", "Username, password and security token"
        OAUTH = "oauth", "OAuth (refresh token)"
        CLIENT_CREDENTIALS = "client_credentials", "OAuth client credentials"
        SESSION_ID = "session_id", "Session ID"

    SECRET_FIELDS = ("password", "security_token", "client_secret", "refresh_token", "session_id")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=40, choices=KIND_CHOICES, default="salesforce")
    login_url = models.URLField(
        max_length=500,
        default="https://login.salesforce.com",
        help_text="Login host (login, test or My Domain); for Session ID, the instance URL.",
    )
    auth_method = models.CharField(
        max_length=30, choices=AuthMethod.choices, default=AuthMethod.CREDENTIALS
    )
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField(blank=True)
    security_token = EncryptedTextField(blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    session_id = EncryptedTextField(blank=True)
    retry_initial_delay = models.FloatField(
        default=1.0, help_text="Seconds before the first retry; doubles each time."
    )
    retry_limit = models.PositiveSmallIntegerField(default=3)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "workspace", name="unique_connection_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def connector(self):
        return connector_class(self.kind)(self)

    def secrets_set(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in self.SECRET_FIELDS}
