"""The connector registry: every entry imports and is a Connector."""

import pytest

from connectors.base import Connector
from connectors.registry import CONNECTORS, KIND_CHOICES, connector_class
from connectors.salesforce.connector import SalesforceConnector
from tests.factories import make_connection, make_workspace


@pytest.mark.parametrize("kind", list(CONNECTORS))
def test_each_registered_connector_imports_and_subclasses_connector(kind):
    cls = connector_class(kind)

    assert issubclass(cls, Connector)
    assert cls.label == CONNECTORS[kind][0]


def test_kind_choices_follow_the_registry():
    assert KIND_CHOICES == [("salesforce", "Salesforce")]


@pytest.mark.django_db
def test_a_connection_builds_its_connector():
    connection = make_connection(workspace=make_workspace())

    connector = connection.connector

    assert isinstance(connector, SalesforceConnector)
    assert connector.connection is connection
