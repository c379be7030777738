from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        # Registers the refresh tasks, which refresh.py publishes by name, in every process
        # (not only in a worker, where Celery discovers them).
        from . import tasks  # noqa: F401
