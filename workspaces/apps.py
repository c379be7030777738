from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "workspaces"

    def ready(self):
        # API tokens are revoked when their user's password changes or the user is deactivated.
        from . import signals

        signals.connect()
