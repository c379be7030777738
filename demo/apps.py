from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (`manage.py seed_demo`): above every app, since it creates objects of all."""

    name = "demo"
