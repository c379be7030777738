"""Project configuration: settings, URLs, the Celery app and the WSGI/ASGI entry points."""

from . import keys  # noqa: F401  (registers the encryption key's deploy check)
from .celery import app as celery_app

__all__ = ["celery_app"]
