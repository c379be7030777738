"""Shared pieces of the REST API, one module per concept as Django REST framework lays out
its own: errors (and the exception handler), parsers, renderers, negotiation, serializers,
throttling, pagination, filters, idempotency and schema. Workspace-aware pieces (fields,
the role permission, scoped viewsets) live in workspaces/.
"""
