"""The connector registry: one line per destination kind, imported on first use."""

import functools

from django.utils.module_loading import import_string

CONNECTORS = {
    "salesforce": ("Salesforce", "connectors.salesforce.connector.SalesforceConnector"),
}
KIND_CHOICES = [(kind, label) for kind, (label, _) in CONNECTORS.items()]


@functools.cache
def connector_class(kind: str):
    return import_string(CONNECTORS[kind][1])
