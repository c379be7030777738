"""Audience Studio pages: parent segments (with CSV upload) and segments (with the rule builder)."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from common import charts
from common.ids import parse_id
from common.uploads import upload_limit_message
from common.validation import InvalidInput
from sources import browse
from sources.models import Source
from workspaces.models import can_write
from workspaces.views import current_workspace, require_write

from . import audience, backing, inference, live, refresh, rules, services, sizes, snapshots
from .forms import COLUMN_TYPE_CHOICES, ParentSegmentForm, SegmentForm, UploadForm
from .models import ParentSegment, Profile, Refresh, Segment

SAMPLE_ROWS = 20
# The segment page shows who is in the audience: its first profiles, in key order.
AUDIENCE_SAMPLE_ROWS = 10
# An upload can report thousands of bad rows; the page shows the first ones and the total.
SHOWN_IMPORT_ERRORS = 200


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("segments:parent-list")


# ---- Parent segments ----


@login_required
def parent_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    parents = ParentSegment.objects.filter(workspace=workspace).prefetch_related("segments")
    return render(request, "segments/parent_list.html", {"parents": parents})


@login_required
def parent_detail(request: HttpRequest, pk: int) -> HttpResponse:
    parent = get_object_or_404(ParentSegment.objects.visible_to(request.user), pk=pk)
    return render_parent_detail(request, parent, UploadForm())


def sample_text(value):
    """A stored value as the CSV had it: JSON's true/false, numbers and text as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def render_parent_detail(request, parent, upload_form, *, import_result=None, status=200):
    names = parent.column_names
    row_count, live_error = parent.row_count, ""
    if live.is_live(parent):
        # Read in the source now: the first rows and the count.
        try:
            row_count = live.count(parent, services.EMPTY_RULES)
            found = list(live.rows_of(parent, services.EMPTY_RULES, limit=SAMPLE_ROWS))
        except live.LiveSourceError as error:
            found, live_error = [], error.message
    elif snapshots.is_snapshot(parent):
        found = list(audience.snapshot_rows(parent, services.EMPTY_RULES, limit=SAMPLE_ROWS))
    else:
        profiles = Profile.objects.filter(parent_segment=parent).order_by("pk")[:SAMPLE_ROWS]
        found = [profile.attributes for profile in profiles]
    sample = [[sample_text(attributes.get(name)) for name in names] for attributes in found]
    context = {
        "parent": parent,
        "is_live": live.is_live(parent),
        "row_count": row_count,
        "live_error": live_error,
        "sample_rows": sample,
        "segments": parent.segments.all(),
        "upload_form": upload_form,
        "can_write": can_write(request.user, parent.workspace),
        "import_result": import_result,
        "refreshes": parent.refreshes.all()[:REFRESH_HISTORY_ROWS],
        "refresh_settings": backing.refresh_settings(parent),
        "failed_status": Refresh.Status.FAILED,
        "import_errors": import_result.errors[:SHOWN_IMPORT_ERRORS] if import_result else [],
    }
    return render(request, "segments/parent_detail.html", context, status=status)


@login_required
def parent_create(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    if request.method == "POST":
        require_write(request, workspace)
        form = ParentSegmentForm(request.POST)
        if form.is_valid():
            try:
                parent = services.create_parent_segment(workspace=workspace, data=form.payload())
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                messages.success(request, f"Parent segment “{parent.name}” created.")
                return redirect("segments:parent-detail", pk=parent.pk)
    else:
        form = ParentSegmentForm(initial={"columns": [{"name": "customer_id", "type": "string"}]})
    return render(
        request,
        "segments/parent_form.html",
        {"form": form, "column_types": COLUMN_TYPE_CHOICES, "parent": None},
        status=400 if form.has_errors() else 200,
    )


@login_required
def parent_edit(request: HttpRequest, pk: int) -> HttpResponse:
    parent = get_object_or_404(ParentSegment.objects.visible_to(request.user), pk=pk)
    require_write(request, parent.workspace)
    if request.method == "POST":
        form = ParentSegmentForm(request.POST)
        if form.is_valid():
            data = form.payload()
            if parent.source_id:
                # The refresh settings as they are, with the cursor column chosen here.
                data["refresh"] = {
                    **backing.refresh_settings(parent),
                    "cursor_column": form.cleaned_data["cursor_column"],
                }
            try:
                services.update_parent_segment(parent, data=data)
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                messages.success(request, "Parent segment saved.")
                return redirect("segments:parent-detail", pk=parent.pk)
    else:
        form = ParentSegmentForm(
            initial={
                "name": parent.name,
                "description": parent.description,
                "key_column": parent.key_column,
                "columns": parent.columns,
                "cursor_column": parent.refresh_cursor_column,
            }
        )
    return render(
        request,
        "segments/parent_form.html",
        {"form": form, "column_types": COLUMN_TYPE_CHOICES, "parent": parent},
        status=400 if form.has_errors() else 200,
    )


@login_required
@require_POST
def parent_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Import a CSV of profiles. Answers JSON to the page's XHR uploader, HTML otherwise."""
    parent = get_object_or_404(ParentSegment.objects.visible_to(request.user), pk=pk)
    require_write(request, parent.workspace)
    wants_json = "application/json" in request.headers.get("Accept", "")
    form = UploadForm(request.POST, request.FILES)
    valid = form.is_valid()
    if getattr(request, "upload_too_large", False):
        # The upload was stopped at the limit: say so rather than "this field is required".
        form.errors["file"] = form.error_class([upload_limit_message()])
        valid = False
    if not valid:
        if wants_json:
            return JsonResponse({"form_errors": form.errors.get_json_data()}, status=400)
        return render_parent_detail(request, parent, form, status=400)
    result = services.import_profiles_file(
        parent_segment=parent,
        file=form.cleaned_data["file"],
        mode=form.cleaned_data["mode"],
        allow_empty=form.cleaned_data["allow_empty"],
    )
    parent.refresh_from_db()
    status = 400 if result.errors else 200
    if wants_json:
        if not result.errors:
            # The uploader reloads the page on success; the message is shown there.
            messages.success(request, f"Imported {result.rows_imported:,} rows.")
        return JsonResponse(
            {
                "rows_imported": result.rows_imported,
                "row_count": parent.row_count,
                "error_count": result.error_count,
                "errors": [
                    {"line": error.line, "column": error.column, "message": error.message}
                    for error in result.errors[:SHOWN_IMPORT_ERRORS]
                ],
            },
            status=status,
        )
    if not result.errors:
        messages.success(request, f"Imported {result.rows_imported:,} rows.")
        return redirect("segments:parent-detail", pk=parent.pk)
    return render_parent_detail(request, parent, form, import_result=result, status=status)


# ---- Segments ----


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    segments = Segment.objects.filter(workspace=workspace).select_related("parent_segment")
    query = request.GET.get("q", "").strip()
    total = segments.count()
    if query:
        segments = segments.filter(
            Q(name__icontains=query) | Q(description__icontains=query) | Q(folder__icontains=query)
        )
    folders: dict[str, list[Segment]] = {}
    for segment in segments.order_by("name"):
        folders.setdefault(segment.folder, []).append(segment)
    return render(
        request,
        "segments/segment_list.html",
        {
            "folders": sorted(folders.items()),
            "query": query,
            "total": total,
            "has_parents": ParentSegment.objects.filter(workspace=workspace).exists(),
            "nav_item": "segments",
        },
    )


@login_required
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(
        Segment.objects.visible_to(request.user).select_related("parent_segment"), pk=pk
    )
    return render(
        request,
        "segments/segment_detail.html",
        {
            "segment": segment,
            "rules_text": describe_rules(segment.rules),
            "activations": segment.activations.select_related("connection")
            .order_by("name")
            .with_last_run(),
            "can_write": can_write(request.user, segment.workspace),
            "nav_item": "segments",
            **size_chart_context(segment),
        },
    )


def size_chart_context(segment: Segment) -> dict:
    """The segment page's audience size chart, and the last count's drift if it had one."""
    history = sizes.size_history(segment)
    if not history:
        return {"size_chart": None, "size_drift": ""}
    labels = [timezone.localtime(record.measured_at).strftime("%d %b %H:%M") for record in history]
    chart = charts.line(
        title="Audience size", labels=labels, values=[record.size for record in history]
    )
    last = history[-1]
    drift = ""
    if last.drift is not None:
        drift = "from nobody" if last.drift == float("inf") else f"{last.drift * 100:+.0f}%"
    return {"size_chart": chart, "size_drift": drift}


@login_required
def segment_sample(request: HttpRequest, pk: int) -> HttpResponse:
    """The audience's first profiles (an htmx fragment, loaded after the page)."""
    segment = get_object_or_404(
        Segment.objects.visible_to(request.user).select_related("parent_segment"), pk=pk
    )
    names = segment.parent_segment.column_names
    try:
        rows = [
            [sample_text(attributes.get(name)) for name in names]
            for attributes in audience.sample(segment, AUDIENCE_SAMPLE_ROWS)
        ]
        error = ""
    except InvalidInput as invalid:
        rows, error = [], str(invalid)
    except live.LiveSourceError as failed:
        rows, error = [], failed.message
    return render(
        request,
        "segments/_audience_sample.html",
        {"columns": names, "rows": rows, "error": error},
    )


@login_required
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a segment. Refused while activations send it somewhere (deleting it
    would delete them and their schedules), as the API refuses it."""
    segment = get_object_or_404(
        Segment.objects.visible_to(request.user).select_related("parent_segment"), pk=pk
    )
    require_write(request, segment.workspace)
    blocking = services.activations_of(segment)
    if request.method == "POST" and not blocking:
        services.delete(segment)
        messages.success(request, f"Segment “{segment.name}” deleted.")
        return redirect("segments:parent-detail", pk=segment.parent_segment_id)
    return render(
        request,
        "confirm_delete.html",
        {
            "kind": "segment",
            "object": segment,
            "blocking": blocking,
            "cancel_url": reverse("segments:segment-detail", args=[segment.pk]),
            "nav_item": "segments",
        },
        status=409 if request.method == "POST" else 200,
    )


@login_required
def parent_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a parent segment with its rows and segments; refused while any of
    its segments has an activation."""
    parent = get_object_or_404(ParentSegment.objects.visible_to(request.user), pk=pk)
    require_write(request, parent.workspace)
    blocking = services.activations_of(parent)
    if request.method == "POST" and not blocking:
        services.delete(parent)
        messages.success(request, f"Parent segment “{parent.name}” deleted.")
        return redirect("segments:parent-list")
    return render(
        request,
        "confirm_delete.html",
        {
            "kind": "parent segment",
            "object": parent,
            "segments": parent.segments.order_by("name"),
            "blocking": blocking,
            "cancel_url": reverse("segments:parent-detail", args=[parent.pk]),
        },
        status=409 if request.method == "POST" else 200,
    )


@login_required
def segment_size(request: HttpRequest, pk: int) -> HttpResponse:
    """The audience size as text, loaded lazily by the lists (counting can take a moment)."""
    segment = get_object_or_404(
        Segment.objects.visible_to(request.user).select_related("parent_segment"), pk=pk
    )
    try:
        return HttpResponse(f"{audience.size(segment):,}")
    except live.LiveSourceError as failed:
        # A live parent's source is down or its key not unique: say why instead of a 500.
        return HttpResponse(format_html('<span title="{}">unavailable</span>', failed.message))


@login_required
def segment_create(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    parents = ParentSegment.objects.filter(workspace=workspace)
    if not parents.exists():
        messages.info(
            request, "A segment is built on a parent segment: create one and upload its rows first."
        )
        return redirect("segments:parent-list")
    if request.method == "POST":
        require_write(request, workspace)
        form = SegmentForm(request.POST, parent_segments=parents)
        if form.is_valid():
            try:
                segment = services.create_segment(workspace=workspace, data=form.payload())
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                messages.success(request, f"Segment “{segment.name}” created.")
                return redirect("segments:segment-detail", pk=segment.pk)
    else:
        form = SegmentForm(
            parent_segments=parents,
            initial={
                "parent_segment": request.GET.get("parent"),
                "folder": request.GET.get("folder", ""),
            },
        )
    return render_segment_form(request, form, parents, segment=None)


@login_required
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment.objects.visible_to(request.user), pk=pk)
    require_write(request, segment.workspace)
    parents = ParentSegment.objects.filter(workspace=segment.workspace)
    if request.method == "POST":
        form = SegmentForm(request.POST, parent_segments=parents)
        if form.is_valid():
            try:
                services.update_segment(segment, data=form.payload())
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                messages.success(request, "Segment saved.")
                return redirect("segments:segment-detail", pk=segment.pk)
    else:
        form = SegmentForm(
            parent_segments=parents,
            initial={
                "parent_segment": segment.parent_segment_id,
                "name": segment.name,
                "description": segment.description,
                "folder": segment.folder,
                "rules": segment.rules,
            },
        )
    return render_segment_form(request, form, parents, segment=segment)


def render_segment_form(request, form, parents, *, segment):
    columns_by_parent = {str(parent.pk): parent.columns for parent in parents}
    folders = (
        Segment.objects.filter(
            workspace=current_workspace(request) if segment is None else segment.workspace
        )
        .exclude(folder="")
        .values_list("folder", flat=True)
        .distinct()
        .order_by("folder")
    )
    return render(
        request,
        "segments/segment_form.html",
        {
            "form": form,
            "segment": segment,
            "folders": folders,
            "builder_config": {
                "columns_by_parent": columns_by_parent,
                "rules": json.loads(form.rules_json() or "{}"),
                "errors": form.rule_errors,
                "operators_by_type": rules.OPERATORS_BY_TYPE,
            },
            "nav_item": "segments",
        },
        status=400 if form.errors or form.rule_errors else 200,
    )


@login_required
@require_POST
def audience_size(request: HttpRequest) -> JsonResponse:
    """The size of an unsaved rule tree, for the builder's live count.

    Body: {"parent_segment": id, "rules": {...}} -> {"size": n} or {"errors": {path: [...]}}.
    """
    try:
        body = json.loads(request.body)
        parent_id = parse_id(body["parent_segment"])
        rule_tree = body["rules"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return JsonResponse({"errors": {"": ["The request could not be read."]}}, status=400)
    if parent_id is None:
        return JsonResponse(
            {"errors": {"parent_segment": ["Expected the id of a parent segment."]}}, status=400
        )
    parent = get_object_or_404(ParentSegment.objects.visible_to(request.user), pk=parent_id)
    try:
        rules.validate(rule_tree, parent.columns)
    except InvalidInput as error:
        return JsonResponse({"errors": error.errors}, status=400)
    unsaved = Segment(workspace=parent.workspace, parent_segment=parent, rules=rule_tree)
    try:
        size = audience.size(unsaved)
        total = live.count(parent, services.EMPTY_RULES) if live.is_live(parent) else None
    except live.LiveSourceError as failed:
        return JsonResponse({"errors": {"": [failed.message]}}, status=failed.status_code)
    return JsonResponse({"size": size, "total": parent.row_count if total is None else total})


OPERATOR_TEXT = {
    "eq": "=",
    "ne": "≠",
    "in": "in",
    "not_in": "not in",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "between": "between",
    "contains": "contains",
    "starts_with": "starts with",
    "is_null": "is empty",
    "is_not_null": "is not empty",
    "before": "before",
    "after": "after",
    "within_last_days": "within the last",
}


def describe_rules(tree: dict, *, nested: bool = False) -> str:
    """A one-line reading of a rule tree, e.g. `country = "JP" AND (age ≥ 30 OR consent = true)`."""
    conditions = (tree or {}).get("conditions") or []
    if not conditions:
        return "" if nested else "Every profile (no conditions)"
    joiner = f" {str(tree.get('type', 'and')).upper()} "
    parts = []
    for item in conditions:
        if "conditions" in item:
            inner = describe_rules(item, nested=True)
            if inner:
                parts.append(f"({inner})" if len(item["conditions"]) > 1 else inner)
        else:
            parts.append(describe_condition(item))
    return joiner.join(parts)


def describe_condition(condition: dict) -> str:
    operator = condition.get("operator", "")
    text = f"{condition.get('column', '?')} {OPERATOR_TEXT.get(operator, operator)}"
    value = condition.get("value")
    if operator in ("is_null", "is_not_null"):
        return text
    if operator == "between" and isinstance(value, list) and len(value) == 2:
        return f"{text} {json.dumps(value[0])} and {json.dumps(value[1])}"
    if operator == "within_last_days":
        return f"{text} {value} days"
    return f"{text} {json.dumps(value, ensure_ascii=False)}"


# ---- Parent segments from a source, refreshes, CSV inference ----

REFRESH_HISTORY_ROWS = 10


@login_required
def parent_from_source(request: HttpRequest) -> HttpResponse:
    """Pick a source's table or a query, see the inferred columns, adjust them, create."""
    workspace = current_workspace(request)
    source_choices = Source.objects.filter(workspace=workspace)
    values = request.POST if request.method == "POST" else request.GET
    source_id = values.get("source", "")
    source = source_choices.filter(pk=source_id).first() if source_id.isdigit() else None
    table = values.get("table", "").strip()
    query = values.get("query", "").strip()
    form, errors, inferred = None, [], None
    if request.method == "POST":
        require_write(request, workspace)
        form = ParentSegmentForm(request.POST)
        storage = values.get("storage", "imported")
        if form.is_valid() and source is not None:
            data = {
                **form.payload(),
                "source": {
                    "source": source.pk,
                    **({"query": query} if query else {"table": table}),
                    "storage": storage,
                },
                "refresh": {
                    "mode": values.get("refresh_mode", "replace"),
                    "cursor_column": form.cleaned_data["cursor_column"],
                    "schedule": {
                        # A live parent is never refreshed: its schedule field is hidden.
                        "type": "none"
                        if storage == "live"
                        else values.get("schedule_type", "none"),
                        "cron": values.get("cron", ""),
                        "timezone": values.get("timezone", "") or "UTC",
                    },
                },
            }
            try:
                parent = services.create_parent_segment(workspace=workspace, data=data)
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                if live.is_live(parent):
                    done = "its rows are read live from the source"
                else:
                    refresh.request_refresh(parent)
                    done = "its first refresh is queued"
                messages.success(request, f"Parent segment “{parent.name}” created; {done}.")
                return redirect("segments:parent-detail", pk=parent.pk)
    elif source is not None and (table or query):
        try:
            inferred = browse.relation_columns(source, browse.Relation(table=table, query=query))
        except InvalidInput as error:
            errors = [m for messages_ in error.errors.values() for m in messages_]
        except browse.SourceError as error:
            errors = [str(error)]
        else:
            default_name = table.rpartition(".")[2] if table else ""
            form = ParentSegmentForm(
                initial={
                    "columns": inferred,
                    "name": default_name,
                    "key_column": inferred[0]["name"],
                }
            )
    return render(
        request,
        "segments/parent_source_form.html",
        {
            "sources": source_choices,
            "source": source,
            "table": table,
            "query": query,
            "form": form,
            "errors": errors,
            "column_types": COLUMN_TYPE_CHOICES,
            "values": values,
        },
        status=400 if errors or (form is not None and form.has_errors()) else 200,
    )


@login_required
@require_POST
def parent_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Refresh now": queue a refresh from the parent's source."""
    parent = get_object_or_404(ParentSegment.objects.visible_to(request.user), pk=pk)
    require_write(request, parent.workspace)
    try:
        if live.is_live(parent):
            raise refresh.RefreshRefused(live.REFRESH_REFUSED)
        queued = refresh.request_refresh(parent)
    except refresh.RefreshRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Refresh {queued.pk} queued.")
    return redirect("segments:parent-detail", pk=parent.pk)


@login_required
@require_POST
def parent_infer_columns(request: HttpRequest) -> HttpResponse:
    """The new parent segment form, filled with the columns proposed for an uploaded CSV."""
    workspace = current_workspace(request)
    require_write(request, workspace)
    upload = request.FILES.get("file")
    initial = {"columns": [{"name": "customer_id", "type": "string"}]}
    if upload is None:
        messages.error(request, "Choose a CSV file to propose columns from.")
    else:
        try:
            result = inference.infer_csv(upload)
        except ValueError as error:
            messages.error(request, f"Cannot read the file: {error}")
        else:
            initial = {
                "columns": result.columns,
                "key_column": result.key_candidates[0] if result.key_candidates else "",
                "name": upload.name.rsplit(".", 1)[0],
            }
            messages.success(
                request,
                f"Columns proposed from {upload.name} ({result.rows_sampled} rows read); "
                "key candidates: " + (", ".join(result.key_candidates) or "none"),
            )
    return render(
        request,
        "segments/parent_form.html",
        {
            "form": ParentSegmentForm(initial=initial),
            "column_types": COLUMN_TYPE_CHOICES,
            "parent": None,
        },
    )
