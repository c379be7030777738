"""Dry run: what the next run of an activation would do now, without writing anything to
Salesforce or changing anything of ours (no Run, no fingerprint). The rows go through the
same SELECT (activations/streaming.py) and selection (activations/fingerprints.py) as a run;
the connector then looks keys up with read-only query jobs, counts jobs and API calls, and
reads the org's limits."""

from django.utils import timezone

from . import fingerprints, runner, streaming
from .models import Activation


def dry_run(activation: Activation) -> dict:
    """{"sync", "sync_reason", "operation", "rows": {"insert", "update", "delete",
    "unchanged", "invalid"}, "salesforce": {"jobs", "api_calls", "limits"}}.

    `delete` counts the records a run would delete (truncate mode, and rows that left the
    segment with on_leave "delete") or clear (on_leave "clear"). In upsert mode a row sent
    counts as `update` when a record has its key and `insert` when none has. `invalid`
    counts rows our own checks refuse before sending (an empty key; in update by a
    looked-up key, a key matching no record or several). Raises InvalidInput when the
    mapping no longer fits, ConnectorError when the destination does not.
    """
    columns = runner.output_columns(activation)
    params = runner.export_params(activation)
    decision = fingerprints.decide(activation, columns, retry_of=None)
    sync = fingerprints.RunSync.build(activation, columns, decision, run_id=None)
    keyed = streaming.cells(activation, timestamp=timezone.now(), with_key=True)
    selected = sync.select(keyed, with_clears=False)

    def leaving_to_delete():
        if sync.on_leave == Activation.OnLeave.DELETE:
            yield from sync.leavers()

    try:
        plan = activation.connection.connector.dry_run(
            params,
            columns,
            selected,
            # Both are generators: read after `selected`, when the leavers are known.
            clear_rows=sync.clear_rows(),
            delete_keys=leaving_to_delete(),
        )
    finally:
        keyed.close()
    return {
        "sync": decision.sync,
        "sync_reason": decision.reason,
        "operation": runner._operation(params),
        "rows": {
            "insert": plan.insert,
            "update": plan.update,
            "delete": plan.delete,
            "unchanged": sync.unchanged,
            "invalid": plan.invalid,
        },
        "salesforce": {"jobs": plan.jobs, "api_calls": plan.api_calls, "limits": plan.limits},
    }
