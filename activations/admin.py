from django.contrib import admin

from .models import Activation, FailedRow, Run


@admin.register(Activation)
class ActivationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "segment",
        "connection",
        "mode",
        "object_name",
        "schedule_type",
        "enabled",
    ]
    list_filter = ["workspace", "enabled", "mode", "schedule_type"]
    search_fields = ["name"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "activation",
        "trigger",
        "status",
        "queued_at",
        "rows_succeeded",
        "rows_failed",
    ]
    list_filter = ["status", "trigger"]


@admin.register(FailedRow)
class FailedRowAdmin(admin.ModelAdmin):
    list_display = ["run", "error"]
    show_full_result_count = False
