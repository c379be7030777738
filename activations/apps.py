from django.apps import AppConfig


class ActivationsConfig(AppConfig):
    name = "activations"

    def ready(self) -> None:
        # Connects the signal that deletes the beat row of an activation deleted by cascade.
        # Registers the tasks, which dispatch publishes by name, in every process (not only in
        # a worker, where Celery discovers them).
        from . import (
            beat,  # noqa: F401
            tasks,  # noqa: F401
        )
