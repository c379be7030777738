"""Incremental sync: what Salesforce already has, row by row, so a run sends only the rows
that are new, changed, or failed last time, and handles rows that left the segment.

Per activation and key, a `Fingerprint` holds an 8-byte hash of the row's CSV cells as
Salesforce last accepted it. A row's key is its value of the update key (`export.key`) in
update mode, and the parent segment's key column (the profile) in append mode. Fingerprints
advance only for rows Salesforce reported as succeeded, in the transaction that counts them
(a recorded run's chunk outcome, `ChunkFingerprints`; else `RunRecorder.rows_accepted`), so
a run that dies leaves nothing marked as sent that was not.
A row that failed keeps its old fingerprint (or none), so the next run sends it again.

`SyncState.config_hash` is a hash of the settings that shape rows (mode, object, key,
upsert, nulls, mapping, output columns): fingerprints taken under other settings say nothing,
so a new hash forgets them and the run is full.
"""

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from .dispatch import request_run
from .models import Activation, Fingerprint, Run, SyncState

FINGERPRINTS_PER_QUERY = 5000
# Rows read between two checkpoints while only unchanged rows go by.
CHECKPOINT_EVERY_SKIPPED = 10_000
# Salesforce reads #N/A as "empty this field".
CLEAR_CELL = "#N/A"


def fingerprint(values: Sequence[str]) -> int:
    """An 8-byte hash of a row's cells, as a signed 64-bit integer (a BigIntegerField)."""
    digest = hashlib.blake2b("\x1f".join(values).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def config_hash(activation: Activation, columns: Sequence[str]) -> str:
    """A hash of the settings that decide what a row looks like in Salesforce."""
    settings = {
        "mode": activation.mode,
        "object": activation.object_name,
        "key": activation.key,
        "upsert": activation.upsert,
        "null_value": activation.null_value,
        "mapping": activation.output_mapping,
        "columns": list(columns),
        "profile_key": activation.segment.parent_segment.key_column,
    }
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def keeps_fingerprints(activation: Activation) -> bool:
    return (
        activation.sync == Activation.Sync.INCREMENTAL
        and activation.mode != Activation.Mode.TRUNCATE
    )


def forget(activation: Activation) -> None:
    """Forget what Salesforce has: the next run is full."""
    with transaction.atomic():
        SyncState.objects.filter(activation=activation).delete()
        Fingerprint.objects.filter(activation=activation).delete()


def request_full_resync(activation: Activation, *, user=None) -> Run:
    """Forget the fingerprints and queue a run, which is then full. Raises
    services.RunConflict (forgetting nothing) while another run is active."""
    with transaction.atomic():
        run = request_run(activation=activation, trigger=Run.Trigger.API, user=user)
        forget(activation)
        run.progress = {**run.progress, "full_resync": True}
        run.save(update_fields=["progress"])
    return run


def stored_fingerprints(activation_id: int) -> dict[str, int]:
    rows = Fingerprint.objects.filter(activation_id=activation_id).values_list("key", "fingerprint")
    return dict(rows.iterator(chunk_size=FINGERPRINTS_PER_QUERY))


@dataclass
class Decision:
    """Whether a run is full or incremental, and why."""

    sync: str  # "full" | "incremental" | "retry"
    reason: str
    # Forget the stored fingerprints and start again under `config` (a full run).
    reset: bool = False


def decide(activation: Activation, columns: Sequence[str], *, retry_of: int | None) -> Decision:
    """How the next run of `activation` sends its rows (reads only)."""
    if retry_of is not None:
        return Decision("retry", f"Retry of the rows that failed in run {retry_of}.")
    if activation.mode == Activation.Mode.TRUNCATE:
        return Decision("full", "Truncate mode always sends every row.")
    if activation.sync != Activation.Sync.INCREMENTAL:
        return Decision("full", "The activation sends every row (export.sync is full).")
    state = SyncState.objects.filter(activation=activation).first()
    if state is None:
        return Decision(
            "full",
            "First incremental run (or a full resync): nothing is known to be in "
            "Salesforce yet, so every row is sent.",
            reset=True,
        )
    if state.config_hash != config_hash(activation, columns):
        return Decision(
            "full",
            "The mapping, object, key or mode changed since the last run, so every row is "
            "sent again.",
            reset=True,
        )
    return Decision("incremental", "Sends new and changed rows and the rows that failed.")


@dataclass
class Pending:
    """A row handed to the connector, waiting for its outcome."""

    key: str
    fingerprint: int | None  # None: a row that left the segment (cleared or deleted)


@dataclass
class RunSync:
    """One run's view of the fingerprints: picks the rows to send, and turns outcomes back
    into keys (to advance fingerprints, and to remember failed rows' keys for a retry).

    `pending` holds only the rows in flight: it is keyed by what an outcome row shows of
    its row (the update key, or in append mode the row's fingerprint).
    """

    run_id: int | None
    activation_id: int
    columns: list[str]
    key_index: int | None  # the update key's column; None in append/truncate mode
    keep: bool  # store fingerprints (incremental sync)
    on_leave: str
    only_keys: set[str] | None = None  # a retry: send just these keys
    stored: dict[str, int] = field(default_factory=dict)
    pending: dict[object, deque[Pending]] = field(default_factory=dict)
    unchanged: int = 0
    # True while a delete job runs: its outcome rows are one-cell rows [key].
    deleting: bool = False
    _stored_unchanged: int = 0
    unmatched: int = 0

    # -- setting up --

    @classmethod
    def start(
        cls, run: Run, activation: Activation, columns: Sequence[str], decision: Decision
    ) -> "RunSync":
        """Store the decision on the run (and a new config hash when it resets), load the
        fingerprints an incremental run compares with."""
        if keeps_fingerprints(activation) and decision.reset:
            with transaction.atomic():
                Fingerprint.objects.filter(activation=activation).delete()
                SyncState.objects.update_or_create(
                    activation=activation,
                    defaults={"config_hash": config_hash(activation, columns)},
                )
        Run.objects.filter(pk=run.pk).update(sync=decision.sync, sync_reason=decision.reason)
        return cls.build(activation, columns, decision, run_id=run.pk)

    @classmethod
    def build(
        cls,
        activation: Activation,
        columns: Sequence[str],
        decision: Decision,
        *,
        run_id: int | None,
    ) -> "RunSync":
        """Without a run (`run_id` None, a dry run) nothing is ever written."""
        keep = keeps_fingerprints(activation) and run_id is not None
        columns = list(columns)
        key_index = (
            columns.index(activation.key)
            if activation.mode == Activation.Mode.UPDATE and activation.key in columns
            else None
        )
        sync = cls(
            run_id=run_id,
            activation_id=activation.pk,
            columns=columns,
            key_index=key_index,
            keep=keep,
            on_leave=(
                activation.on_leave
                if keeps_fingerprints(activation) and key_index is not None
                else Activation.OnLeave.IGNORE
            ),
        )
        if decision.sync == "incremental":
            sync.stored = stored_fingerprints(activation.pk)
        return sync

    # -- choosing rows --

    def select(
        self, keyed: Iterable[Sequence[str]], *, checkpoint=None, with_clears: bool = True
    ) -> Iterator[Sequence[str]]:
        """The rows to send, from the segment's rows as `streaming.cells(with_key=True)`
        gives them (the cells, then the row's key): new, changed or failed last time; in a
        retry, only the failed keys. Each goes out without its key. Then, with on_leave
        "clear" (and `with_clears`), the rows that left the segment, with their other
        fields cleared."""

        def every_skipped() -> None:
            self.store_unchanged()
            if checkpoint:
                checkpoint()

        for row in self.chosen(keyed, every_skipped=every_skipped):
            values = row[:-1]
            self._expect(values, Pending(row[-1], fingerprint(values)))
            yield values
        self.store_unchanged()
        if with_clears and self.only_keys is None:
            yield from self.clear_rows()

    def chosen(self, keyed: Iterable[Sequence[str]], *, every_skipped=None) -> Iterator:
        """The keyed rows to send, as they come (their key last), counting the unchanged
        in `unchanged` (stored by the caller); `every_skipped()` is called every
        CHECKPOINT_EVERY_SKIPPED rows left out."""
        skipped = 0
        retry = self.only_keys is not None
        for row in keyed:
            values = row[:-1]
            key = row[-1]
            stored = self.stored.pop(key, None) if key else None
            if retry:
                chosen = key in self.only_keys
                self.only_keys.discard(key)
            else:
                chosen = stored is None or stored != fingerprint(values)
                self.unchanged += not chosen
            if chosen:
                yield row
                continue
            skipped += 1
            if every_skipped and skipped % CHECKPOINT_EVERY_SKIPPED == 0:
                every_skipped()

    def leavers(self) -> list[str]:
        """Keys of rows that left the segment (known to Salesforce, not read this run);
        meaningful once `select` has been read to its end."""
        return sorted(self.stored)

    def clear_rows(self) -> Iterator[list[str]]:
        """With on_leave "clear": a row per key that left the segment, every field but the
        key set to #N/A."""
        if self.on_leave != Activation.OnLeave.CLEAR:
            return
        for key in self.leavers():
            values = self.cleared(key)
            self._expect(values, Pending(key, None))
            yield values

    def cleared(self, key: str) -> list[str]:
        """The row clearing every field of `key`'s record but the key."""
        values = [CLEAR_CELL] * len(self.columns)
        values[self.key_index] = key
        return values

    def expect_deletes(self, keys: Iterable[str]) -> Iterator[str]:
        """Keys for a delete job, expected back as one-cell rows."""
        for key in keys:
            self.pending.setdefault(("delete", key), deque()).append(Pending(key, None))
            yield key

    def _expect(self, values: Sequence[str], pending: Pending) -> None:
        if self.run_id is None:
            return  # a dry run: no outcome will come
        self.pending.setdefault(self._match(values), deque()).append(pending)

    def _match(self, values: Sequence[str]) -> object:
        if self.deleting:
            return ("delete", values[0] if values else "")
        if self.key_index is not None:
            return values[self.key_index]
        return fingerprint(values)

    def _take(self, values: Sequence[str]) -> Pending | None:
        match = self._match(values)
        waiting = self.pending.get(match)
        if not waiting:
            return None
        found = waiting.popleft()
        if not waiting:
            del self.pending[match]
        return found

    # -- outcomes (inside the recorder's transaction) --

    def accepted(self, rows: Sequence[Sequence[str]]) -> int:
        """Advance the fingerprints of accepted rows, forget those of rows that left the
        segment and were deleted or cleared; returns how many of those there were."""
        advanced: dict[str, int] = {}
        left: list[str] = []
        for values in rows:
            found = self._take(values)
            if found is None:
                self.unmatched += 1
            elif found.fingerprint is None:
                left.append(found.key)
            elif found.key:
                advanced[found.key] = found.fingerprint
        if self.keep:
            save(self.activation_id, advanced)
            drop(self.activation_id, left)
        return len(left)

    def failed_keys(self, rows: Sequence[Sequence[str]]) -> list[str]:
        """The keys of failed rows ("" where unknown), in order."""
        keys = []
        for values in rows:
            found = self._take(values)
            keys.append(found.key if found is not None else "")
        return keys

    def store_unchanged(self) -> None:
        unstored = self.unchanged - self._stored_unchanged
        if unstored and self.run_id is not None:
            Run.objects.filter(pk=self.run_id).update(rows_unchanged=F("rows_unchanged") + unstored)
            self._stored_unchanged = self.unchanged


def save(activation_id: int, advanced: dict[str, int]) -> None:
    """Store the fingerprints of `advanced` (key → fingerprint), replacing older ones."""
    items = list(advanced.items())
    for start in range(0, len(items), FINGERPRINTS_PER_QUERY):
        Fingerprint.objects.bulk_create(
            [
                Fingerprint(activation_id=activation_id, key=key, fingerprint=value)
                for key, value in items[start : start + FINGERPRINTS_PER_QUERY]
            ],
            update_conflicts=True,
            unique_fields=["activation", "key"],
            update_fields=["fingerprint"],
        )


def drop(activation_id: int, keys: Sequence[str]) -> None:
    """Forget the fingerprints of `keys` (their rows left the segment and were handled)."""
    keys = list(keys)
    for start in range(0, len(keys), FINGERPRINTS_PER_QUERY):
        Fingerprint.objects.filter(
            activation_id=activation_id, key__in=keys[start : start + FINGERPRINTS_PER_QUERY]
        ).delete()


def accepted_keys(
    rows: Sequence[Sequence[str]], accepted: Sequence[Sequence[str]], *, key_index: int | None
) -> tuple[dict[str, int], int]:
    """A recorded chunk's accepted rows: {key: fingerprint of the cells we sent} for each
    row of `rows` (cells, then the key) that an accepted echo names (by the update key's
    cell, else by the fingerprint of its cells), and how many echoes named none."""

    def match(values: Sequence[str]) -> object:
        return values[key_index] if key_index is not None else fingerprint(values)

    waiting: dict[object, deque[tuple[str, int]]] = {}
    for row in rows:
        values = row[:-1]
        waiting.setdefault(match(values), deque()).append((row[-1], fingerprint(values)))
    found: dict[str, int] = {}
    unmatched = 0
    for values in accepted:
        queue = waiting.get(match(values))
        if not queue:
            unmatched += 1
            continue
        key, value_print = queue.popleft()
        if key:
            found[key] = value_print
    return found, unmatched


@dataclass
class ChunkFingerprints:
    """A recorded run's fingerprints (activations/steps.py), advanced per chunk outcome in
    the transaction that stores it: a crash never marks a row sent that was not, and a
    resumed run never sends an accepted row again."""

    activation_id: int
    key_index: int | None  # the update key's column; None in append mode

    def accepted(self, kind: str, rows, accepted) -> tuple[int, int]:
        """Advance the fingerprints of a rows chunk's accepted rows, forget those of a
        "leave-clear" or "leave-delete" chunk's (whose rows are [Id, key], matched by Id);
        returns (rows that left and were cleared or deleted, echoes matching no row)."""
        deletes = kind == "leave-delete"
        key_index = None if deletes else self.key_index
        found, unmatched = accepted_keys(rows, accepted, key_index=key_index)
        if deletes or kind == "leave-clear":
            drop(self.activation_id, list(found))
            return len(found), unmatched
        save(self.activation_id, found)
        return 0, unmatched


# --- The runner's hooks -----------------------------------------------------------------


def begin(run: Run, activation: Activation, columns: Sequence[str], log) -> RunSync:
    """Decide how the run sends its rows, say so in its log, and set it up."""
    from .retry import failed_keys  # retry builds on this module

    retry_of = run.progress.get("retry_of")
    if run.sync:
        # A resumed run: decided once (a reset already forgot the fingerprints).
        decision = Decision(run.sync, run.sync_reason)
    else:
        decision = decide(activation, columns, retry_of=retry_of)
    if run.progress.get("full_resync") and decision.sync == "full":
        decision.reason = (
            "Full resync requested: the stored fingerprints were forgotten, so every row is sent."
        )
    sync = RunSync.start(run, activation, columns, decision)
    if retry_of is not None:
        sync.only_keys, unknown = failed_keys(retry_of)
        if unknown:
            log(f"{unknown:,} failed rows of run {retry_of} cannot be told apart; not sent.")
    log(f"{decision.sync.capitalize()} run: {decision.reason}")
    return sync


def after_write(sync: RunSync, connector, params, sink, counted, log) -> int:
    """After the rows went out: delete the records of rows that left the segment (with
    on_leave "delete"), and report failed rows of a retry that left it. Returns the number
    of rows sent to delete."""
    if sync.only_keys:
        log(
            f"{len(sync.only_keys):,} of the failed rows have left the segment since; "
            "they were not sent."
        )
    if sync.unmatched:
        log(
            f"{sync.unmatched:,} accepted rows came back changed by Salesforce and could not "
            "be matched; the next incremental run sends them again."
        )
    if sync.on_leave != Activation.OnLeave.DELETE or sync.only_keys is not None:
        return 0
    keys = sync.leavers()
    if not keys:
        return 0
    log(f"Deleting the records of {len(keys):,} rows that left the segment.")
    sync.deleting = True
    return connector.delete(params, counted(sync.expect_deletes(keys)), sink).rows_sent
