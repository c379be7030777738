"""The web UI's URLs."""

urlpatterns: list = []
