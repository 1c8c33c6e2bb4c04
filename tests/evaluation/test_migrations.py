"""Migration 0004 moves every case result's metric columns into its ``values`` map, and back
when reversed: no stored score is lost."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("evaluation", "0003_validating")]
AFTER = [("evaluation", "0004_case_result_values")]
COLUMNS = {"dice": 0.5, "nsd": 0.25, "hd": None, "hd95": 3.5, "assd": 1.25}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps.get_model("evaluation", "CaseResult")


def test_metric_columns_become_a_map_and_back():
    phase = factories.phase()
    _, evaluation = factories.submission(phase, factories.participant(phase))
    old = migrate(BEFORE)
    try:
        old.objects.create(evaluation_id=evaluation.id, case="case_a", label=1, missing=False,
                           **COLUMNS)
        old.objects.create(evaluation_id=evaluation.id, case="case_b", label=1, missing=True,
                           dice=0.0, nsd=0.0)
        new = migrate(AFTER)
        rows = {row.case: row for row in new.objects.all()}
        assert rows["case_a"].values == COLUMNS and rows["case_a"].matches is None
        assert rows["case_b"].values == {"dice": 0.0, "nsd": 0.0, "hd": None, "hd95": None,
                                         "assd": None}
        assert rows["case_b"].missing
        old = migrate(BEFORE)
        back = old.objects.get(case="case_a")
        assert {name: getattr(back, name) for name in COLUMNS} == COLUMNS
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("evaluation"))
