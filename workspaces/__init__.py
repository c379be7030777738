"""Workspaces (teams): every object belongs to one, and users hold a role in each of theirs."""
