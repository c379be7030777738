import pytest

from tests.factories import make_parent_segment, make_workspace


@pytest.mark.django_db
def test_parent_segment_belongs_to_workspace():
    workspace = make_workspace()
    parent = make_parent_segment(workspace=workspace)
    assert parent.column_names[0] == "customer_id"
