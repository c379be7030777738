"""A workspace with an owner, a viewer and an outsider, and the objects the pages show."""

import pytest
from django.test import Client

from tests.factories import (
    make_activation,
    make_connection,
    make_japan_segment,
    make_user,
    make_workspace,
)

CUSTOMERS_CSV = b"""customer_id,email,first_name,last_name,country,age,consent
C001,aiko@example.jp,Aiko,Tanaka,JP,34,true
C002,kenji@example.jp,Kenji,Sato,JP,41,false
C003,mia@example.com,Mia,Smith,US,28,
"""


@pytest.fixture
def team(db):
    workspace = make_workspace("Acme Marketing")
    owner = make_user("owner", workspace=workspace, role="owner")
    viewer = make_user("viewer", workspace=workspace, role="viewer")
    outsider = make_user("outsider", workspace=make_workspace("Other team"), role="owner")
    segment = make_japan_segment(workspace=workspace, csv=CUSTOMERS_CSV)
    parent = segment.parent_segment
    connection = make_connection(workspace=workspace, name="Production org")
    activation = make_activation(segment=segment, connection=connection, name="Japan to Contacts")
    return {
        "workspace": workspace,
        "owner": owner,
        "viewer": viewer,
        "outsider": outsider,
        "parent": parent,
        "segment": segment,
        "connection": connection,
        "activation": activation,
    }


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(team):
    return client_for(team["owner"])


@pytest.fixture
def viewer_client(team):
    return client_for(team["viewer"])


@pytest.fixture
def outsider_client(team):
    return client_for(team["outsider"])
