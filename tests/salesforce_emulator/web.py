"""Plain request/response values and Salesforce's REST error envelope, free of the HTTP server."""

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs


@dataclass
class Request:
    """One HTTP request as the handlers see it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    base_url: str = ""
    user: object = None  # the authenticated state.User, set by the router

    @classmethod
    def build(cls, *, method, path, raw_query, headers, body, base_url) -> "Request":
        query = {name: values[-1] for name, values in parse_qs(raw_query).items()}
        return cls(
            method=method,
            path=path,
            query=query,
            headers={name.lower(): value for name, value in headers.items()},
            body=body,
            base_url=base_url,
        )

    def json(self):
        """The body parsed as JSON; raises ApiError(400, JSON_PARSER_ERROR) when it is not."""
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {error}") from error

    def form(self) -> dict[str, str]:
        """The body parsed as application/x-www-form-urlencoded."""
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {name: values[-1] for name, values in parsed.items()}

    def bearer_token(self) -> str | None:
        header = self.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and token.strip():
            return token.strip()
        return None


@dataclass
class Response:
    """What a handler answers; the server writes it out verbatim."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data, status: int = 200, headers: dict[str, str] | None = None) -> "Response":
        return cls(
            status=status,
            body=json.dumps(data).encode("utf-8"),
            headers={"Content-Type": "application/json;charset=UTF-8", **(headers or {})},
        )

    @classmethod
    def csv(cls, text: str, headers: dict[str, str] | None = None) -> "Response":
        return cls(
            status=200,
            body=text.encode("utf-8"),
            headers={"Content-Type": "text/csv; charset=UTF-8", **(headers or {})},
        )

    @classmethod
    def xml(cls, text: str, status: int = 200) -> "Response":
        return cls(
            status=status,
            body=text.encode("utf-8"),
            headers={"Content-Type": "text/xml;charset=UTF-8"},
        )

    @classmethod
    def empty(cls, status: int = 204) -> "Response":
        return cls(status=status)


class ApiError(Exception):
    """A REST failure answered as Salesforce does: a JSON array of {errorCode, message}."""

    def __init__(self, status: int, error_code: str, message: str, *, headers=None) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        return Response.json(
            [{"errorCode": self.error_code, "message": self.message}],
            status=self.status,
            headers=self.headers,
        )


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
