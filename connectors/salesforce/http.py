"""HTTP to Salesforce: one requests session per run, explicit timeouts and bounded retries.

Certificates are always verified. requests reads REQUESTS_CA_BUNDLE from the environment
(trust_env), which is how the tests and a local demo trust the emulator's certificate.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from connectors.base import ConnectorError

logger = logging.getLogger("connectors.salesforce")

# Seconds to wait for a TCP connection and then for each read of the answer. Module
# constants so that tests can shorten them.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
# However many retries are allowed, no single wait exceeds this.
MAX_RETRY_DELAY = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure."""

    limit: int
    initial_delay: float

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry `retry_number` (0 for the first).

        The nominal delay starts at `initial_delay` and doubles each time (capped); the wait
        is drawn between half of it and all of it, so retries of parallel jobs spread out
        while a user's "initial retry delay" still means roughly what it says.
        """
        nominal = min(MAX_RETRY_DELAY, self.initial_delay * (2**retry_number))
        return random.uniform(nominal / 2, nominal)


def _error_body(response: requests.Response) -> dict:
    """The first error of a REST error answer ([{"errorCode": ..., "message": ...}] or one
    such object), or {} when the answer is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0]
    return body if isinstance(body, dict) else {}


def error_code(response: requests.Response) -> str:
    """The errorCode of a REST error answer ([{"errorCode": ..., "message": ...}]), or ""."""
    return str(_error_body(response).get("errorCode", ""))


def error_message(response: requests.Response) -> str:
    """A short description of an error answer: "CODE: message", or the HTTP status."""
    body = _error_body(response)
    if body.get("errorCode") or body.get("message"):
        code = body.get("errorCode", "")
        message = body.get("message", "")
        return f"{code}: {message}" if code and message else str(code or message)
    return status_text(response)


def answer_text(response: requests.Response) -> str:
    """ "503 Service Unavailable (SERVER_UNAVAILABLE: ...)": the status and Salesforce's error."""
    status = status_text(response)
    detail = error_message(response)
    return status if detail == status else f"{status} ({detail})"


def status_text(response: requests.Response) -> str:
    return f"{response.status_code} {response.reason or ''}".strip()


def is_daily_limit(response: requests.Response) -> bool:
    """The org's 24-hour API request allowance is used up ("TotalRequests Limit exceeded."):
    waiting minutes will not help, so it ends the run instead of being retried."""
    if response.status_code != 403 or error_code(response) != "REQUEST_LIMIT_EXCEEDED":
        return False
    return str(_error_body(response).get("message", "")).startswith("TotalRequests")


def daily_limit_error(response: requests.Response) -> ConnectorError:
    return ConnectorError(
        "Salesforce refused the call: the org has used up its daily API requests "
        f"(DailyApiRequests; {error_message(response)}). They free up as the calls of the last "
        "24 hours age out (Salesforce counts over a rolling 24 hours): run again later, or "
        "ask Salesforce for a higher limit. Nothing more was sent.",
        retryable=True,
    )


def is_transient(response: requests.Response) -> bool:
    """5xx answers and concurrency limits (REQUEST_LIMIT_EXCEEDED other than the daily
    TotalRequests) are worth retrying after a pause."""
    if response.status_code >= 500:
        return True
    return (
        response.status_code == 403
        and error_code(response) == "REQUEST_LIMIT_EXCEEDED"
        and not is_daily_limit(response)
    )


class HttpClient:
    """A requests session with timeouts and retries; callers interpret the final answer."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "segment-activation/0.1"
        self.sleep = time.sleep

    def close(self) -> None:
        self.session.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        retry: RetryPolicy,
        transient: Callable[[requests.Response], bool] | None = is_transient,
        **kwargs,
    ) -> requests.Response:
        """Send a request, retrying connection errors, timeouts and transient answers.

        `transient` decides which answers are worth retrying (None: no answer is). Gives up
        after `retry.limit` retries with ConnectorError(retryable=True) naming the last
        problem. Any other answer (2xx, 4xx) is returned for the caller to read. An HTTPS
        certificate that is not trusted is not retried: waiting will not fix it.
        """
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        # Salesforce's API does not redirect; following one could lead anywhere.
        kwargs.setdefault("allow_redirects", False)
        path = urlsplit(url).path
        rewind = body_rewinder(kwargs.get("data"))
        attempts = retry.limit + 1
        for attempt in range(attempts):
            if attempt:
                self.sleep(retry.delay(attempt - 1))
            rewind()
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.Timeout:
                problem = "the request timed out"
            except requests.exceptions.SSLError:
                raise ConnectorError(
                    f"The HTTPS certificate of {urlsplit(url).netloc} is not trusted."
                ) from None
            except requests.ConnectionError as exc:
                problem = f"could not connect ({_connection_problem(exc)})"
            else:
                logger.debug("%s %s -> %s", method, path, response.status_code)
                if is_daily_limit(response):
                    raise daily_limit_error(response)
                if transient is None or not transient(response):
                    return response
                problem = answer_text(response)
                response.close()
            logger.info(
                "%s %s failed (attempt %s of %s): %s", method, path, attempt + 1, attempts, problem
            )
        host = urlsplit(url).netloc
        plural = "attempt" if attempts == 1 else "attempts"
        raise ConnectorError(
            f"Salesforce ({host}) did not answer after {attempts} {plural}: {problem}",
            retryable=True,
        )


def body_rewinder(body) -> Callable[[], None]:
    """A function that puts a file body back where it started, so that sending it again
    sends all of it: requests reads a file body to its end, even when the answer is an error
    (a retry, or a resend after logging in again, would otherwise send nothing)."""
    if not hasattr(body, "seek"):
        return lambda: None
    start = body.tell()
    return lambda: body.seek(start)


def _connection_problem(exc: requests.ConnectionError) -> str:
    """A short reason for a connection failure, without the URL requests puts in its text."""
    text = str(exc)
    for needle, reason in (
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
        ("getaddrinfo failed", "unknown host"),
        ("Connection refused", "connection refused"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "the server closed the connection"),
        ("Network is unreachable", "network unreachable"),
    ):
        if needle in text:
            return reason
    return "network error"
