"""Connection pages: list, create and edit (also inside the activation editor), test, and the
"Connect to Salesforce" OAuth round trip."""

import json
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from common.api.throttling import ConnectionTestThrottle, throttle_view
from common.ids import parse_id
from common.validation import InvalidInput
from workspaces.models import can_write
from workspaces.views import current_workspace, require_write

from . import services
from .base import ConnectorError
from .forms import ConnectionForm
from .models import Connection
from .salesforce import oauth

# OAuth round trips in flight, by state, kept in the session (so a state works only for the
# browser that started it).
OAUTH_SESSION_KEY = "salesforce_oauth"


@login_required
def connection_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    connections = Connection.objects.filter(workspace=workspace).annotate(
        activation_count=Count("activations")
    )
    return render(request, "connectors/connection_list.html", {"connections": connections})


# Error reports (the DEBUG page, mails to ADMINS) mask the secrets posted to these views.
@sensitive_post_parameters(*Connection.SECRET_FIELDS)
@login_required
def connection_create(request: HttpRequest) -> HttpResponse:
    """The connection form; with `dialog=1` it is the fragment the activation editor shows in
    a dialog, and a saved connection is announced to the page (HX-Trigger) instead of a redirect."""
    workspace = current_workspace(request)
    in_dialog = request.GET.get("dialog") == "1"
    # In the dialog, ids must not collide with the activation form's (both have a "name").
    auto_id = "id_connection_%s" if in_dialog else "id_%s"
    if request.method == "POST":
        require_write(request, workspace)
        form = ConnectionForm(request.POST, auto_id=auto_id)
        if form.is_valid():
            try:
                connection = services.create_connection(workspace=workspace, data=form.payload())
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                if in_dialog:
                    response = HttpResponse(status=204)
                    response["HX-Trigger"] = json.dumps(
                        {"connectionCreated": {"id": connection.pk, "name": connection.name}}
                    )
                    return response
                messages.success(request, f"Connection “{connection.name}” created.")
                return redirect("connectors:edit", pk=connection.pk)
    else:
        form = ConnectionForm(auto_id=auto_id)
    return render_form(request, form, connection=None, in_dialog=in_dialog)


@sensitive_post_parameters(*Connection.SECRET_FIELDS)
@login_required
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection.objects.visible_to(request.user), pk=pk)
    writable = can_write(request.user, connection.workspace)
    if request.method == "POST":
        require_write(request, connection.workspace)
        form = ConnectionForm(request.POST, instance=connection)
        if form.is_valid():
            try:
                services.update_connection(connection, data=form.payload())
            except InvalidInput as error:
                form.show_service_errors(error)
            else:
                messages.success(request, "Connection saved.")
                return redirect("connectors:edit", pk=connection.pk)
    else:
        form = ConnectionForm(instance=connection)
    return render_form(request, form, connection=connection, in_dialog=False, writable=writable)


def render_form(request, form, *, connection, in_dialog, writable=True):
    template = (
        "connectors/_connection_form.html" if in_dialog else ("connectors/connection_form.html")
    )
    return render(
        request,
        template,
        {
            "form": form,
            "connection": connection,
            "can_write": writable,
            "in_dialog": in_dialog,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
@throttle_view(ConnectionTestThrottle, "connection tests", "connectors/_test_result.html")
def connection_test(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Log in with a saved connection and say whether it worked (an htmx fragment)."""
    if pk is None:
        raw = request.POST.get("connection", "")
        pk = parse_id(raw) or 0
        if not pk:
            return render(
                request,
                "connectors/_test_result.html",
                {"ok": False, "error": "Choose a connection first."},
                status=400,
            )
    connection = get_object_or_404(Connection.objects.visible_to(request.user), pk=pk)
    error = services.test_connection(connection)
    return render(request, "connectors/_test_result.html", {"ok": error is None, "error": error})


@login_required
@require_POST
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection.objects.visible_to(request.user), pk=pk)
    require_write(request, connection.workspace)
    in_use = connection.activations.count()
    if in_use:
        messages.error(
            request,
            f"“{connection.name}” is used by {in_use} activation(s); change them first.",
        )
        return redirect("connectors:edit", pk=connection.pk)
    connection.delete()
    messages.success(request, f"Connection “{connection.name}” deleted.")
    return redirect("connectors:list")


def oauth_redirect_uri() -> str:
    # The callback registered in the connected app: SITE_URL is this service's public address.
    return settings.SITE_URL + reverse("connectors:oauth-callback")


@login_required
@require_POST
def oauth_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the browser to the org's authorize page ("Connect to Salesforce")."""
    connection = get_object_or_404(Connection.objects.visible_to(request.user), pk=pk)
    require_write(request, connection.workspace)
    state = secrets.token_urlsafe(32)
    try:
        url, code_verifier = oauth.authorize_url(
            connection, redirect_uri=oauth_redirect_uri(), state=state
        )
    except (ConnectorError, InvalidInput) as error:
        messages.error(request, f"Cannot connect to Salesforce: {error}")
        return redirect("connectors:edit", pk=connection.pk)
    pending = request.session.get(OAUTH_SESSION_KEY, {})
    pending[state] = {"connection": connection.pk, "code_verifier": code_verifier}
    # Only the latest few round trips are kept; an abandoned one must not grow the session.
    request.session[OAUTH_SESSION_KEY] = dict(list(pending.items())[-5:])
    return HttpResponseRedirect(url)


@login_required
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where the org sends the browser back: exchange the code and store the refresh token."""
    state = request.GET.get("state", "")
    pending = request.session.get(OAUTH_SESSION_KEY, {})
    attempt = pending.pop(state, None)
    request.session[OAUTH_SESSION_KEY] = pending
    if attempt is None:
        messages.error(request, "This Salesforce sign-in was not started here, or has expired.")
        return redirect("connectors:list")
    connection = get_object_or_404(
        Connection.objects.visible_to(request.user), pk=attempt["connection"]
    )
    require_write(request, connection.workspace)
    if request.GET.get("error"):
        description = request.GET.get("error_description") or request.GET["error"]
        messages.error(request, f"Salesforce did not connect: {description}")
        return redirect("connectors:edit", pk=connection.pk)
    try:
        oauth.exchange_code(
            connection,
            code=request.GET.get("code", ""),
            code_verifier=attempt["code_verifier"],
            redirect_uri=oauth_redirect_uri(),
        )
    except (ConnectorError, InvalidInput) as error:
        message = services.without_secrets(connection, str(error))
        messages.error(request, f"Salesforce did not connect: {message}")
    else:
        messages.success(request, f"Connected “{connection.name}” to Salesforce.")
    return redirect("connectors:edit", pk=connection.pk)
