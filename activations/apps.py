from django.apps import AppConfig


class ActivationsConfig(AppConfig):
    name = "activations"
