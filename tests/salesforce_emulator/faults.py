"""Faults that tests inject: HTTP errors, slow answers, limits, expired sessions, row locks."""

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = (
    "http_error",  # answer `status` (default 503) instead of handling the request
    "timeout",  # sleep `seconds` before handling the request (longer than the client waits)
    "request_limit",  # 403 REQUEST_LIMIT_EXCEEDED
    "session_expired",  # expire every session, then answer 401 INVALID_SESSION_ID
    "unable_to_lock_row",  # fail rows with UNABLE_TO_LOCK_ROW while processing jobs
    "job_failed",  # the next job processed ends Failed with `message`
)
REQUEST_KINDS = ("http_error", "timeout", "request_limit", "session_expired")


@dataclass
class Fault:
    kind: str
    times: int | None = 1  # how many more times it fires; None = every time
    path: str | None = None  # regular expression searched in the request path
    method: str | None = None
    options: dict = field(default_factory=dict)
    fired: int = 0

    def matches_request(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or re.search(self.path, path) is not None


class Faults:
    """The pending faults; each firing uses one of its `times`."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.lock = threading.Lock()

    def add(self, kind: str, *, times=1, path=None, method=None, **options) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        fault = Fault(kind, times=times, path=path, method=method, options=options)
        with self.lock:
            self.pending.append(fault)
        return fault

    def take(self, kinds: tuple[str, ...], accept: Callable[[Fault], bool]) -> Fault | None:
        """The first pending fault of `kinds` that `accept`s, counted as fired once."""
        with self.lock:
            for fault in self.pending:
                if fault.kind in kinds and accept(fault):
                    fault.fired += 1
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.pending.remove(fault)
                    return fault
        return None

    def for_request(self, method: str, path: str) -> Fault | None:
        return self.take(REQUEST_KINDS, lambda fault: fault.matches_request(method, path))

    def lock_row(self, row: dict) -> bool:
        """True when this row should fail with UNABLE_TO_LOCK_ROW."""

        def accept(fault: Fault) -> bool:
            when = fault.options.get("when")
            return when is None or bool(when(row))

        return self.take(("unable_to_lock_row",), accept) is not None

    def job_failure(self) -> Fault | None:
        return self.take(("job_failed",), lambda fault: True)
