from django.contrib import admin

from . import beat
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
    list_filter = ["workspace", "enabled", "mode", "schedule_type", "catch_up"]
    search_fields = ["name"]
    # The schedule is validated and kept in step with its PeriodicTask by the services; the
    # admin shows it but changes it only through `enabled`, synced on save. `catch_up` is
    # read by the task at each firing, so the admin may change it.
    readonly_fields = ["schedule_type", "cron", "timezone", "delay_seconds", "periodic_task"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        beat.sync_periodic_task(obj)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "activation",
        "trigger",
        "status",
        "scheduled_for",
        "queued_at",
        "rows_succeeded",
        "rows_failed",
    ]
    list_filter = ["status", "trigger"]


@admin.register(FailedRow)
class FailedRowAdmin(admin.ModelAdmin):
    list_display = ["run", "error"]
    show_full_result_count = False
