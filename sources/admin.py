from django.contrib import admin

from .models import Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    """The URL (without password) and kind; secrets are never shown or edited here."""

    list_display = ["name", "workspace", "kind", "url", "updated_at"]
    list_filter = ["workspace", "kind"]
    search_fields = ["name", "url"]
    fields = ["workspace", "name", "url", "kind", "options", "created_at", "updated_at"]
    # The URL and options are checked (hosts, files, drivers) by sources.services: change
    # them through the UI or the API, not here.
    readonly_fields = ["workspace", "url", "kind", "options", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False
