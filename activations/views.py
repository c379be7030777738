"""Activation pages: the editor in panels, the activation page with its runs, and run details."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from common import schedules
from common.ids import parse_id
from common.validation import InvalidInput
from segments.models import Segment
from workspaces.models import can_write
from workspaces.views import current_workspace, require_write

from . import editor_checks, runner, services
from .charts import run_charts
from .exports import failed_rows_csv
from .forms import (
    PART_TYPES,
    ActivationForm,
    default_initial,
    initial_from_payload,
    mapping_from_post,
    mapping_payload,
    time_zone_choices,
)
from .models import Activation, Run

PREVIEW_ROWS = 5
TEST_RUN_ROWS = 10
MAX_TEST_RUN_ROWS = 1000
FAILED_ROWS_SHOWN = 50
RUNS_SHOWN = 50


def visible_activations(request):
    return Activation.objects.visible_to(request.user).select_related(
        "segment__parent_segment", "connection"
    )


@login_required
def activation_list(request: HttpRequest) -> HttpResponse:
    """Every activation of the workspace with its schedule, next run and last run; a search
    over names, segments and objects."""
    workspace = current_workspace(request)
    activations = Activation.objects.filter(workspace=workspace).select_related(
        "segment__parent_segment", "connection"
    )
    total = activations.count()
    query = request.GET.get("q", "").strip()
    if query:
        activations = activations.filter(
            Q(name__icontains=query)
            | Q(segment__name__icontains=query)
            | Q(object_name__icontains=query)
            | Q(connection__name__icontains=query)
        )
    rows = [
        {
            "activation": activation,
            "schedule": schedule_text(activation),
            "next_run": next_run_of(activation),
            "last_run": activation.last_run,
        }
        for activation in activations.order_by("name").with_last_run()
    ]
    return render(
        request,
        "activations/activation_list.html",
        {"rows": rows, "query": query, "total": total},
    )


def next_run_of(activation: Activation):
    """When the schedule next starts the activation (aware, in its time zone), or None."""
    if not activation.enabled or activation.schedule_type == Activation.ScheduleType.NONE:
        return None
    try:
        moments = schedules.next_runs(
            activation.schedule_type, activation.cron, activation.timezone, count=1
        )
    except InvalidInput:
        return None
    return moments[0] if moments else None


def visible_segment(request, raw_id: str) -> Segment:
    return get_object_or_404(
        Segment.objects.visible_to(request.user).select_related("parent_segment"),
        pk=parse_id(raw_id) or 0,
    )


def schedule_text(activation: Activation) -> str:
    try:
        return schedules.describe(activation.schedule_type, activation.cron)
    except InvalidInput:
        return activation.cron


# ---- The editor ----


@login_required
def activation_create(request: HttpRequest) -> HttpResponse:
    """The editor for a new activation of `segment`; with `copy`, it starts from a copy of
    that activation (same segment), named "… (copy)" and disabled, so a duplicate never runs
    twice on the original's schedule before the user has looked at it."""
    copy_of = None
    if request.method == "GET" and request.GET.get("copy"):
        copy_of = get_object_or_404(
            visible_activations(request),
            pk=parse_id(request.GET["copy"]) or 0,
        )
    segment_id = request.POST.get("segment") or request.GET.get("segment")
    if copy_of is not None:
        segment_id = str(copy_of.segment_id)
    if not segment_id:
        messages.info(request, "Open a segment and choose “Create Activation”.")
        return redirect("segments:segment-list")
    segment = visible_segment(request, segment_id)
    require_write(request, segment.workspace)
    if request.method == "POST":
        form = ActivationForm(request.POST, segment=segment)
        if form.is_valid():
            try:
                activation = services.create_activation(
                    workspace=segment.workspace, data=form.payload()
                )
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                messages.success(request, f"Activation “{activation.name}” created.")
                return after_save(request, activation)
        else:
            form.check_mapping()
    elif copy_of is not None:
        initial = initial_from_payload(services.activation_payload(copy_of))
        initial.update(name=f"{copy_of.name} (copy)", enabled=False)
        form = ActivationForm(initial=initial, segment=segment)
    else:
        form = ActivationForm(initial=default_initial(segment), segment=segment)
    return render_editor(request, form, activation=None, copy_of=copy_of)


@login_required
def activation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    activation = get_object_or_404(visible_activations(request), pk=pk)
    require_write(request, activation.workspace)
    segment = activation.segment
    if request.method == "POST":
        form = ActivationForm(request.POST, segment=segment)
        if form.is_valid():
            try:
                services.update_activation(activation, data=form.payload())
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                messages.success(request, "Activation saved.")
                return after_save(request, activation)
        else:
            form.check_mapping()
    else:
        payload = services.activation_payload(activation)
        form = ActivationForm(initial=initial_from_payload(payload), segment=segment)
    return render_editor(request, form, activation=activation)


def after_save(request, activation: Activation) -> HttpResponse:
    """The activation page, or with "Save and test run" a test run's page."""
    if request.POST.get("then") == "test-run":
        return start_test_run(request, activation)
    return redirect("activations:detail", pk=activation.pk)


def test_run_rows(request) -> int:
    raw = request.POST.get("test_rows", "")
    rows = int(raw) if raw.isdigit() else TEST_RUN_ROWS
    return min(max(rows, 1), MAX_TEST_RUN_ROWS)


def start_test_run(request, activation: Activation) -> HttpResponse:
    """Queue a test run (the first rows only, to the real destination) and show it."""
    rows = test_run_rows(request)
    try:
        run = services.request_run(
            activation=activation, trigger=Run.Trigger.TEST, user=request.user, row_limit=rows
        )
    except services.RunConflict as conflict:
        messages.warning(request, conflict.message)
        run = conflict.run
    else:
        messages.success(request, f"Test run of the first {rows} rows started.")
    return redirect("activations:run-detail", pk=activation.pk, run_id=run.pk)


@login_required
@require_POST
def activation_test_run(request: HttpRequest, pk: int) -> HttpResponse:
    activation = get_object_or_404(visible_activations(request), pk=pk)
    require_write(request, activation.workspace)
    return start_test_run(request, activation)


@login_required
@require_POST
def activation_check(request: HttpRequest) -> JsonResponse:
    """The editor's unsaved form checked like a run would check it, every problem keyed by
    the field or mapping row that shows it (see editor_checks)."""
    segment = visible_segment(request, request.POST.get("segment", ""))
    instance = None
    raw = request.POST.get("activation", "")
    if raw:
        instance = get_object_or_404(
            visible_activations(request), pk=int(raw) if raw.isdigit() else 0
        )
    form = ActivationForm(request.POST, segment=segment)
    return JsonResponse(editor_checks.check(form, instance=instance))


def render_editor(request, form, *, activation, copy_of=None):
    segment = form.segment
    has_errors = bool(form.errors) or form.panel_has_errors()["mapping"]
    return render(
        request,
        "activations/activation_form.html",
        {
            "form": form,
            "activation": activation,
            "copy_of": copy_of,
            # A new, untouched form may take the browser's time zone instead of UTC.
            "suggest_timezone": activation is None and copy_of is None and not form.is_bound,
            "segment": segment,
            "parent": segment.parent_segment,
            "source_columns": segment.parent_segment.column_names,
            "part_types": PART_TYPES,
            "timezone_choices": time_zone_choices(),
            "export_all_checked": form.export_all_checked(),
            "panel_errors": form.panel_has_errors(),
            "schedule_preview": schedule_preview_context(
                form["schedule_type"].value() or "none",
                form["cron"].value() or "",
                form["timezone"].value() or "UTC",
            ),
        },
        status=400 if has_errors else 200,
    )


@login_required
@require_POST
def mapping_preview(request: HttpRequest) -> HttpResponse:
    """The first rows the editor's unsaved mapping would send (an htmx fragment)."""
    segment = visible_segment(request, request.POST.get("segment", ""))
    export_all = request.POST.get("export_all_columns") in ("on", "true", "1")
    output_mapping = mapping_payload(mapping_from_post(request.POST), export_all_columns=export_all)
    null_value = request.POST.get("null_value")
    if null_value not in Activation.NullValue.values:
        null_value = Activation.NullValue.LEAVE
    timezone_name = request.POST.get("timezone", "")
    if timezone_name not in dict(time_zone_choices()):
        timezone_name = "UTC"
    unsaved = Activation(
        workspace=segment.workspace,
        segment=segment,
        output_mapping=output_mapping,
        null_value=null_value,
        timezone=timezone_name,
    )
    context = {"errors": {}, "columns": [], "rows": []}
    try:
        columns, rows = services.preview(unsaved, limit=PREVIEW_ROWS)
        key = request.POST.get("key", "") if request.POST.get("mode") == "update" else ""
        context["columns"], context["rows"] = built_columns_first(
            columns, rows, built=[string["output"] for string in output_mapping["strings"]], key=key
        )
        context["pinned"] = bool(key) and key in columns
    except InvalidInput as error:
        context["errors"] = error.errors
        context["error_list"] = [
            (describe_mapping_path(path), messages_) for path, messages_ in error.errors.items()
        ]
    return render(request, "activations/_preview.html", context)


def built_columns_first(columns, rows, *, built, key):
    """The preview's order: the key column (pinned by the template), the String Builder
    columns, then the rest, so what the user is building is on screen."""
    order = sorted(
        range(len(columns)),
        key=lambda index: (columns[index] != key, columns[index] not in built, index),
    )
    return [columns[index] for index in order], [[row[index] for index in order] for row in rows]


def describe_mapping_path(path: str) -> str:
    """`output_mapping.columns[2].output` -> `Column 3 · output`, for the preview's error list."""
    text = path.removeprefix("output_mapping").lstrip(".")
    for word, label in (("columns[", "Column "), ("strings[", "String column ")):
        if text.startswith(word):
            index, _, rest = text[len(word) :].partition("]")
            if index.isdigit():
                text = f"{label}{int(index) + 1}"
                rest = rest.lstrip(".")
                if rest.startswith("parts["):
                    part, _, rest = rest[len("parts[") :].partition("]")
                    if part.isdigit():
                        text += f" · part {int(part) + 1}"
                    rest = rest.lstrip(".")
                if rest:
                    text += f" · {rest.replace('_', ' ')}"
            break
    return text or "Output mapping"


@login_required
def schedule_preview(request: HttpRequest) -> HttpResponse:
    """The human description and next run times of a schedule as typed (an htmx fragment)."""
    context = schedule_preview_context(
        request.GET.get("schedule_type", "none"),
        request.GET.get("cron", ""),
        request.GET.get("timezone", "UTC"),
    )
    return render(request, "activations/_schedule_preview.html", context)


def schedule_preview_context(schedule_type: str, cron: str, tz_name: str) -> dict:
    if schedule_type == "cron" and not cron.strip():
        return {"description": "", "next_runs": [], "errors": ["Enter a cron expression."]}
    try:
        description = schedules.describe(schedule_type, cron)
        next_runs = schedules.next_runs(schedule_type, cron, tz_name, count=5)
    except InvalidInput as error:
        messages_ = [
            f"{path.replace('_', ' ')}: {message}" if path else message
            for path, items in error.errors.items()
            for message in items
        ]
        return {"description": "", "next_runs": [], "errors": messages_}
    return {"description": description, "next_runs": next_runs, "errors": [], "timezone": tz_name}


# ---- The activation page ----


@login_required
def activation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activation = get_object_or_404(visible_activations(request), pk=pk)
    payload = services.activation_payload(activation)
    try:
        output_columns = runner.output_columns(activation)
        mapping_error = ""
    except InvalidInput as error:
        output_columns = []
        mapping_error = str(error)
    return render(
        request,
        "activations/activation_detail.html",
        {
            "activation": activation,
            "payload": payload,
            "next_runs": [
                datetime.datetime.fromisoformat(moment)
                for moment in payload["schedule"]["next_runs"]
            ],
            "schedule_description": payload["schedule"].get("description", ""),
            "output_columns": output_columns,
            "mapping_rows": mapping_summary(payload["output_mapping"], activation),
            "mapping_error": mapping_error,
            "can_write": can_write(request.user, activation.workspace),
            "run_charts": run_charts(activation),
            **runs_context(activation),
        },
    )


PART_TEXT = dict(PART_TYPES)


def mapping_summary(output_mapping: dict, activation: Activation) -> list[tuple[str, str]]:
    """(where a value comes from, the output column) for each output column, in order."""
    if output_mapping.get("export_all_columns"):
        rows = [(name, name) for name in activation.segment.parent_segment.column_names]
    else:
        rows = [(column["source"], column["output"]) for column in output_mapping["columns"]]
    for string in output_mapping.get("strings") or []:
        parts = [part_text(part, activation) for part in string.get("parts") or []]
        rows.append((" + ".join(parts) or "(empty)", string["output"]))
    return rows


def part_text(part: dict, activation: Activation) -> str:
    """A string part as the activation page lists it; a timestamp with its format and zone."""
    if part["type"] == "string":
        return f"“{part.get('value', '')}”"
    if part["type"] == "timestamp":
        return (
            f"Timestamp ({part.get('format') or 'ISO 8601'}, "
            f"{part.get('timezone') or activation.timezone})"
        )
    return PART_TEXT[part["type"]]


def runs_context(activation: Activation) -> dict:
    runs = list(activation.runs.all()[:RUNS_SHOWN])
    return {"runs": runs, "any_run_active": any(run.is_active for run in runs)}


@login_required
def run_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The run history table alone; the activation page polls it while a run is active."""
    activation = get_object_or_404(visible_activations(request), pk=pk)
    return render(
        request,
        "activations/_run_history.html",
        {"activation": activation, **runs_context(activation)},
    )


@login_required
@require_POST
def activation_set_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    activation = get_object_or_404(visible_activations(request), pk=pk)
    require_write(request, activation.workspace)
    enabled = request.POST.get("enabled") == "true"
    services.set_enabled(activation, enabled)
    messages.success(request, "Activation enabled." if enabled else "Activation disabled.")
    return redirect("activations:detail", pk=activation.pk)


@login_required
@require_POST
def activation_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Run now: queue a manual run and show it."""
    activation = get_object_or_404(visible_activations(request), pk=pk)
    require_write(request, activation.workspace)
    try:
        run = services.request_run(
            activation=activation, trigger=Run.Trigger.MANUAL, user=request.user
        )
    except services.RunConflict as conflict:
        messages.warning(request, conflict.message)
        run = conflict.run
    else:
        messages.success(request, "Run started.")
    return redirect("activations:run-detail", pk=activation.pk, run_id=run.pk)


@login_required
def activation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask (GET), then delete the activation with its runs and schedule (POST)."""
    activation = get_object_or_404(visible_activations(request), pk=pk)
    require_write(request, activation.workspace)
    if request.method == "POST":
        segment_id = activation.segment_id
        services.delete_activation(activation)
        messages.success(request, f"Activation “{activation.name}” deleted.")
        return redirect("segments:segment-detail", pk=segment_id)
    return render(
        request,
        "confirm_delete.html",
        {
            "kind": "activation",
            "object": activation,
            "blocking": [],
            "cancel_url": reverse("activations:detail", args=[activation.pk]),
        },
    )


# ---- Runs ----


def get_run(request, pk: int, run_id: int) -> Run:
    return get_object_or_404(
        Run.objects.filter(
            activation__in=Activation.objects.visible_to(request.user)
        ).select_related("activation__segment__parent_segment", "requested_by"),
        pk=run_id,
        activation_id=pk,
    )


@login_required
def run_detail(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    run = get_run(request, pk, run_id)
    polled = bool(request.headers.get("HX-Request"))
    template = "activations/_run_body.html" if polled else ("activations/run_detail.html")
    return render(
        request,
        template,
        {
            "run": run,
            "activation": run.activation,
            "failed_rows": run.failed_rows.all()[:FAILED_ROWS_SHOWN],
            "can_write": can_write(request.user, run.activation.workspace),
            "polled": polled,
        },
    )


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    run = get_run(request, pk, run_id)
    require_write(request, run.activation.workspace)
    services.cancel_run(run, user=request.user)
    messages.info(request, "Cancellation requested.")
    return redirect("activations:run-detail", pk=pk, run_id=run.pk)


@login_required
def run_failed_rows(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    """The run's failed rows as CSV: its output columns plus Salesforce's sf__Error."""
    run = get_run(request, pk, run_id)
    response = StreamingHttpResponse(failed_rows_csv(run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-failed-rows.csv"'
    return response
