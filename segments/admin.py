from django.contrib import admin

from .models import ParentSegment, Profile, Refresh, Segment


@admin.register(ParentSegment)
class ParentSegmentAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "workspace",
        "key_column",
        "source",
        "storage",
        "row_count",
        "updated_at",
    ]
    list_filter = ["workspace", "storage"]
    search_fields = ["name"]
    # Live needs a source and a unique key: changed through the API or UI, which check them.
    # A snapshot parent's rows are a table of their own (segments/snapshots.py), not Profiles.
    readonly_fields = ["storage", "snapshot_table"]

    @admin.display(description="Snapshot table")
    def snapshot_table(self, parent: ParentSegment) -> str:
        return (parent.snapshot or {}).get("table", "—")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["key", "parent_segment"]
    list_filter = ["parent_segment"]
    search_fields = ["key"]
    # A parent segment may hold millions of rows: never count them for the paginator.
    show_full_result_count = False
    list_select_related = ["parent_segment"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "folder", "parent_segment", "workspace", "updated_at"]
    list_filter = ["workspace", "folder"]
    search_fields = ["name"]


@admin.register(Refresh)
class RefreshAdmin(admin.ModelAdmin):
    list_display = ["pk", "parent_segment", "status", "trigger", "rows_imported", "created_at"]
    list_filter = ["status", "trigger"]
    list_select_related = ["parent_segment"]
    readonly_fields = [field.name for field in Refresh._meta.fields]
