"""Template context for every page: the user's workspaces, the current one, and whether they may write."""

from .models import can_write, workspaces_of
from .views import current_workspace


def workspace(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    current = current_workspace(request)
    return {
        "workspaces": list(workspaces_of(request.user)),
        "current_workspace": current,
        "can_write_current": can_write(request.user, current),
    }
