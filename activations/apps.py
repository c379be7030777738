from django.apps import AppConfig


class ActivationsConfig(AppConfig):
    name = "activations"

    def ready(self) -> None:
        # Connects the signal that deletes the beat row of an activation deleted by cascade.
        from . import beat  # noqa: F401
