"""Source: a saved, read-only connection to a database where customer data lives."""

import json

from django.db import models

from common.crypto import EncryptedTextField
from workspaces.models import Workspace, WorkspaceQuerySet


class Source(models.Model):
    """A SQLAlchemy URL (stored without its password) plus write-only secrets.

    `options` are the non-secret connection options (passed to the driver as URL query
    parameters); `secret_options` holds the secret ones (a key file's content, say) as JSON,
    encrypted at rest like the password.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    url = models.CharField(max_length=1000, help_text="SQLAlchemy URL, without the password.")
    kind = models.CharField(max_length=50, help_text="The SQLAlchemy dialect, e.g. postgresql.")
    password = EncryptedTextField(blank=True)
    options = models.JSONField(default=dict, blank=True)
    secret_options = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="one_source_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def secret_option_values(self) -> dict:
        return json.loads(self.secret_options) if self.secret_options else {}

    def secrets_set(self) -> dict[str, bool]:
        return {"password": bool(self.password), "options": bool(self.secret_options)}
