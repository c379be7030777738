"""Source pages: list, create and edit (owners only), test, and the table browser."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from common.api.throttling import SourceTestThrottle, throttle_view
from common.validation import InvalidInput
from workspaces.models import Membership
from workspaces.views import current_workspace

from . import browse, services
from .forms import SourceForm
from .models import Source


def is_owner(user, workspace) -> bool:
    return workspace.role_of(user) == Membership.Role.OWNER


def require_owner(request, workspace) -> None:
    if not is_owner(request.user, workspace):
        raise PermissionDenied("Only workspace owners create or change sources.")


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    sources = Source.objects.filter(workspace=workspace)
    return render(
        request,
        "sources/source_list.html",
        {"sources": sources, "is_owner": is_owner(request.user, workspace)},
    )


@sensitive_post_parameters("password", "options")
@login_required
def source_create(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    require_owner(request, workspace)
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source = services.create_source(workspace=workspace, data=form.payload())
        except InvalidInput as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"Source “{source.name}” created.")
            return redirect("sources:detail", pk=source.pk)
    return render(
        request,
        "sources/source_form.html",
        {"form": form, "source": None},
        status=400 if form.errors else 200,
    )


@sensitive_post_parameters("password", "options")
@login_required
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The source's settings (editable by owners) and its tables with their columns."""
    source = get_object_or_404(Source.objects.visible_to(request.user), pk=pk)
    owner = is_owner(request.user, source.workspace)
    if request.method == "POST":
        require_owner(request, source.workspace)
        form = SourceForm(request.POST)
        if form.is_valid():
            try:
                services.update_source(source, data=form.payload())
            except InvalidInput as error:
                form.add_service_errors(error)
            else:
                messages.success(request, "Source saved.")
                return redirect("sources:detail", pk=source.pk)
    else:
        form = SourceForm(initial={"name": source.name, "url": source.url})
    tables, tables_error = [], ""
    try:
        tables = browse.list_tables(source)
    except browse.SourceError as error:
        tables_error = str(error)
    return render(
        request,
        "sources/source_detail.html",
        {
            "source": source,
            "form": form,
            "is_owner": owner,
            "tables": tables,
            "tables_error": tables_error,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
@throttle_view(SourceTestThrottle, "source tests", "sources/_test_result.html")
def source_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Connect and say whether it worked (an htmx fragment)."""
    source = get_object_or_404(Source.objects.visible_to(request.user), pk=pk)
    return render(request, "sources/_test_result.html", {"error": browse.test_source(source)})


@login_required
def source_sample(request: HttpRequest, pk: int) -> HttpResponse:
    """The first rows of a table (an htmx fragment)."""
    source = get_object_or_404(Source.objects.visible_to(request.user), pk=pk)
    relation = browse.Relation(table=request.GET.get("table", ""))
    try:
        sample, error = browse.sample_rows(source, relation), ""
    except (browse.SourceError, InvalidInput) as failure:
        sample, error = None, str(failure)
    return render(request, "sources/_sample.html", {"sample": sample, "error": error})
