"""The Celery application; tasks are discovered in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("activation_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def refuse_development_keys(**kwargs):
    # A worker decrypts connection secrets: never with the public development key. Celery
    # logs and ignores exceptions from signal handlers, so the refusal is an exit.
    from django.core.exceptions import ImproperlyConfigured

    from config.keys import refuse_development_keys as refuse

    try:
        refuse()
    except ImproperlyConfigured as error:
        raise SystemExit(f"Refusing to start: {error}") from None
