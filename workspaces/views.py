"""The current workspace of a browser session, the workspace switcher, and write checks for views."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from common.ids import parse_id

from .models import Workspace, can_write, ensure_personal_workspace, workspaces_of

SESSION_KEY = "workspace_id"


def current_workspace(request: HttpRequest) -> Workspace:
    """The workspace the user is working in: the one chosen in the switcher, else their first.

    A user with no workspace at all (a new superuser, say) gets a personal one on first use.
    """
    cached = getattr(request, "_current_workspace", None)
    if cached is not None:
        return cached
    workspaces = workspaces_of(request.user)
    workspace = workspaces.filter(pk=request.session.get(SESSION_KEY)).first()
    if workspace is None:
        workspace = workspaces.first() or ensure_personal_workspace(request.user)
    request._current_workspace = workspace
    return workspace


def require_write(request: HttpRequest, workspace: Workspace) -> None:
    """Refuse (403) a change by a user who may only view this workspace."""
    if not can_write(request.user, workspace):
        raise PermissionDenied("You can view this workspace but not change it.")


def safe_next_url(request: HttpRequest, default: str) -> str:
    """The `next` parameter when it points back into this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
@require_POST
def switch_workspace(request: HttpRequest) -> HttpResponseRedirect:
    """Make another of the user's workspaces the current one."""
    workspace = get_object_or_404(
        workspaces_of(request.user), pk=parse_id(request.POST.get("workspace")) or 0
    )
    request.session[SESSION_KEY] = workspace.pk
    # The page the user was on may belong to the old workspace; lists are a safe landing place.
    return HttpResponseRedirect(safe_next_url(request, "/"))
