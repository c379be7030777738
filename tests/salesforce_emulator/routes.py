"""The URL map, and what every request goes through: log, faults, version, session, handler."""

import re
import sys
import threading
import traceback
from dataclasses import dataclass

from . import auth, bulk, query, rest
from .state import Org
from .web import ApiError, Request, Response, invalid_session, not_found

DATA = r"/services/data/v(?P<version>\d+\.\d)"
JOB_ID = r"(?P<job_id>[a-zA-Z0-9]{15,18})"


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: object
    authenticated: bool = True

    def match(self, path: str):
        return self.pattern.fullmatch(path)


def route(method: str, pattern: str, handler, *, authenticated: bool = True) -> Route:
    # Salesforce matches path segments case-insensitively and accepts a trailing slash.
    return Route(method, re.compile(pattern + r"/?", re.IGNORECASE), handler, authenticated)


def job_routes(kind: str, module) -> list[Route]:
    """Create, list, info, state change and delete: the same five routes for both job kinds."""
    jobs, job = DATA + r"/jobs/" + kind, DATA + r"/jobs/" + kind + "/" + JOB_ID
    return [
        route("POST", jobs, module.create),
        route("GET", jobs, module.list_jobs),
        route("GET", job, module.info),
        route("PATCH", job, module.change_state),
        route("DELETE", job, module.delete),
    ]


ROUTES = [
    route("POST", r"/services/Soap/u/(?P<version>[^/]+)", auth.soap_login, authenticated=False),
    route("GET", r"/services/oauth2/authorize", auth.authorize, authenticated=False),
    route("POST", r"/services/oauth2/token", auth.token, authenticated=False),
    route("POST", r"/services/oauth2/revoke", auth.revoke, authenticated=False),
    route("GET", r"/services/data", rest.versions, authenticated=False),
    route("GET", DATA, rest.resources),
    route("GET", DATA + r"/limits", rest.limits),
    route("GET", DATA + r"/sobjects", rest.global_describe),
    route("GET", DATA + r"/sobjects/(?P<object_name>\w+)/describe", rest.describe),
    route("GET", DATA + r"/query", rest.query),
    *job_routes("ingest", bulk),
    route("PUT", DATA + r"/jobs/ingest/" + JOB_ID + r"/batches", bulk.upload),
    route(
        "GET",
        DATA
        + r"/jobs/ingest/"
        + JOB_ID
        + r"/(?P<kind>successfulResults|failedResults|unprocessedrecords)",
        bulk.results,
    ),
    *job_routes("query", query),
    route("GET", DATA + r"/jobs/query/" + JOB_ID + r"/results", query.results),
]


def dispatch(org: Org, request: Request, stopping: threading.Event) -> Response:
    """Answer one request; never raises."""
    with org.lock:
        org.requests_log.append((request.method, request.path))
    try:
        fault_response = injected_fault(org, request, stopping)
        if fault_response is not None:
            return fault_response
        matched = [(item, item.match(request.path)) for item in ROUTES]
        matched = [(item, match) for item, match in matched if match]
        if not matched:
            raise not_found()
        for item, match in matched:
            if item.method == request.method or (item.method == "GET" and request.method == "HEAD"):
                return call(org, request, item, match.groupdict())
        allowed = ",".join(sorted({item.method for item, _ in matched}))
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
        )
    except ApiError as error:
        return error.response()
    except Exception as error:  # noqa: BLE001 - the emulator answers 500 like Salesforce would
        traceback.print_exc(file=sys.stderr)
        return ApiError(
            500, "UNKNOWN_EXCEPTION", f"An unexpected error occurred: {error}"
        ).response()


def call(org: Org, request: Request, item: Route, params: dict) -> Response:
    data_call = "version" in params and item.handler is not auth.soap_login
    if data_call:
        params["version"] = check_version(params["version"])
    if item.authenticated:
        session = org.session(request.bearer_token())
        if session is None:
            raise invalid_session()
        request.user = org.user(session.username)
    if data_call and org.api_requests >= org.settings.daily_api_requests:
        raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    if "kind" in params:
        params["kind"] = params["kind"].lower()
    response = item.handler(org, request, **params)
    if data_call:
        response.headers.setdefault("Sforce-Limit-Info", org.count_api_request())
    return response


def check_version(text: str) -> float:
    version = float(text)
    if version < rest.OLDEST_VERSION:
        # [inf] Retired versions answer 410 GONE; the errorCode wording is ours.
        raise ApiError(410, "UNSUPPORTED_API_VERSION", f"API version v{text} is retired")
    if version > rest.NEWEST_VERSION:
        raise not_found()
    return version


def injected_fault(org: Org, request: Request, stopping: threading.Event) -> Response | None:
    fault = org.faults.for_request(request.method, request.path)
    if fault is None:
        return None
    if fault.kind == "timeout":
        # Sleep past the client's timeout, then carry on: the request still takes effect,
        # as a real slow server's would.
        stopping.wait(fault.options.get("seconds", 10))
        return None
    if fault.kind == "http_error":
        status = fault.options.get("status", 503)
        code = {500: "UNKNOWN_EXCEPTION", 502: "BAD_GATEWAY", 503: "SERVER_UNAVAILABLE"}
        message = fault.options.get("message", "Server temporarily unavailable")
        return ApiError(status, code.get(status, "UNKNOWN_EXCEPTION"), message).response()
    if fault.kind == "request_limit":
        # "TotalRequests" is the daily allowance; "ConcurrentPerOrgLongTxn" a concurrency one.
        limit = fault.options.get("limit", "TotalRequests")
        return ApiError(403, "REQUEST_LIMIT_EXCEEDED", f"{limit} Limit exceeded.").response()
    org.expire_sessions()
    return invalid_session().response()
