"""Pages for incremental sync: the activation page's "What will the next run do?" panel
(a dry run), "Full resync", and "Retry failed rows" on the run page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from common.validation import InvalidInput
from connectors.base import ConnectorError
from connectors.services import without_secrets
from workspaces.views import require_write

from . import dryrun, fingerprints, retry, services
from .views import get_run, visible_activations


@login_required
@require_POST
def dry_run_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The dry run's counts as an htmx fragment (changes nothing, so viewers may ask)."""
    activation = get_object_or_404(visible_activations(request), pk=pk)
    context = {"activation": activation}
    try:
        context["report"] = dryrun.dry_run(activation)
    except InvalidInput as invalid:
        context["error"] = f"The output mapping no longer fits the parent segment: {invalid}"
    except ConnectorError as error:
        context["error"] = without_secrets(activation.connection, error.message)
    return render(request, "activations/_dry_run.html", context)


@login_required
@require_POST
def full_resync(request: HttpRequest, pk: int) -> HttpResponse:
    activation = get_object_or_404(visible_activations(request), pk=pk)
    require_write(request, activation.workspace)
    try:
        run = fingerprints.request_full_resync(activation, user=request.user)
    except services.RunConflict as conflict:
        messages.warning(request, conflict.message)
        return redirect("activations:run-detail", pk=activation.pk, run_id=conflict.run.pk)
    messages.success(request, "Full resync started: every row is sent again.")
    return redirect("activations:run-detail", pk=activation.pk, run_id=run.pk)


@login_required
@require_POST
def run_retry(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    run = get_run(request, pk, run_id)
    require_write(request, run.activation.workspace)
    try:
        new_run = retry.request_retry(run, user=request.user)
    except (retry.NothingToRetry, services.RunConflict) as refused:
        messages.warning(request, getattr(refused, "message", str(refused)))
        return redirect("activations:run-detail", pk=pk, run_id=run.pk)
    messages.success(request, f"Retrying the {run.rows_failed:,} failed rows of run #{run.pk}.")
    return redirect("activations:run-detail", pk=pk, run_id=new_run.pk)
