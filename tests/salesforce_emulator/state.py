"""Everything the emulated org holds: users, connected apps, sessions, records, jobs, faults."""

import secrets
import threading
import time
from dataclasses import dataclass, field

from .faults import Faults
from .ids import IdMaker
from .schema import Schema
from .store import Store

DEFAULT_USERNAME = "marketer@example.com"
DEFAULT_PASSWORD = "hunter2"
DEFAULT_SECURITY_TOKEN = "TOKEN123"
DEFAULT_CLIENT_ID = "emulator-client-id"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"


@dataclass
class User:
    username: str
    password: str
    security_token: str
    user_id: str
    full_name: str = "Marketing User"
    locked: bool = False
    api_enabled: bool = True
    # False when the user logs in from a trusted network and needs no security token.
    token_required: bool = True
    hard_delete_allowed: bool = True


@dataclass
class ConnectedApp:
    client_id: str
    client_secret: str
    # None accepts any redirect_uri (convenient in tests); otherwise exact match.
    callback_urls: list[str] | None = None
    # The "Run As" user of the client credentials flow; None disables that flow.
    run_as: str | None = DEFAULT_USERNAME
    refresh_token_rotation: bool = False
    # "Require Secret for Web Server Flow", on by default even with PKCE.
    secret_required_for_web_server: bool = True


@dataclass
class Session:
    token: str
    username: str
    issued_at: float
    expires_at: float
    client_id: str | None = None
    expired: bool = False

    def valid(self) -> bool:
        return not self.expired and time.time() < self.expires_at


@dataclass
class Settings:
    """Knobs tests turn; every one has a realistic default."""

    session_seconds: int = 7200
    # Seconds from UploadComplete to InProgress, and from InProgress to the end.
    processing_delay: float = 0.05
    max_upload_bytes: int = 100 * 1024 * 1024
    max_records_per_upload: int | None = None
    daily_api_requests: int = 15000
    oauth_user: str = DEFAULT_USERNAME
    # True: answer like login.salesforce.com rather than a My Domain host, which refuses the
    # client credentials flow ("request not supported on this domain").
    generic_login_host: bool = False
    # False as in orgs created from Winter '26 on, where an admin must enable SOAP API
    # login() before it can be used; login() then fails with INSUFFICIENT_ACCESS.
    soap_login_enabled: bool = True
    # How result files come out. The documentation promises no row order ("not guaranteed
    # to match the ordering of records in the original job data") and no line ending; real
    # files are LF without a byte order mark. Tests vary these to keep clients honest.
    result_line_ending: str = "LF"  # or "CRLF"
    result_byte_order_mark: bool = False
    result_order: str = "upload"  # or "reversed"
    # Successful rows left out of successfulResults ("Results are not recorded for batches
    # that exceed the daily batch allocation").
    unrecorded_results: int = 0


@dataclass
class Org:
    """One emulated org; `lock` guards every change to it."""

    id_maker: IdMaker = field(default_factory=IdMaker)
    settings: Settings = field(default_factory=Settings)
    faults: Faults = field(default_factory=Faults)
    lock: threading.RLock = field(default_factory=threading.RLock)
    requests_log: list[tuple[str, str]] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    apps: dict[str, ConnectedApp] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    authorization_codes: dict[str, dict] = field(default_factory=dict)
    ingest_jobs: dict[str, object] = field(default_factory=dict)
    query_jobs: dict[str, object] = field(default_factory=dict)
    api_requests: int = 0

    def __post_init__(self) -> None:
        self.schema = Schema()
        self.store = Store(self.schema, self.id_maker)
        self.org_id = self.id_maker.make("00D")
        self.add_user(DEFAULT_USERNAME, DEFAULT_PASSWORD, DEFAULT_SECURITY_TOKEN)
        self.add_app(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    def add_user(self, username: str, password: str, security_token: str, **options) -> User:
        user = User(
            username=username,
            password=password,
            security_token=security_token,
            user_id=self.id_maker.make("005"),
            **options,
        )
        self.users[username.lower()] = user
        # Every user is a User record too, so that Owner.Email finds it.
        first, _, last = user.full_name.rpartition(" ")
        values = {
            "Username": username,
            "Email": username,
            "FirstName": first or None,
            "LastName": last,
            "IsActive": True,
        }
        with self.lock:
            self.store.create("User", values, record_id=user.user_id)
        return user

    def add_app(self, client_id: str, client_secret: str, **options) -> ConnectedApp:
        app = ConnectedApp(client_id=client_id, client_secret=client_secret, **options)
        self.apps[client_id] = app
        return app

    def user(self, username: str) -> User | None:
        return self.users.get(username.lower())

    def open_session(self, username: str, *, client_id: str | None = None) -> Session:
        """A new session id / access token in Salesforce's `00D...!...` shape."""
        now = time.time()
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
        session = Session(
            token=token,
            username=username,
            issued_at=now,
            expires_at=now + self.settings.session_seconds,
            client_id=client_id,
        )
        with self.lock:
            self.sessions[token] = session
        return session

    def session(self, token: str | None) -> Session | None:
        """The live session for a bearer token, or None when unknown, expired or revoked."""
        session = self.sessions.get(token or "")
        return session if session is not None and session.valid() else None

    def expire_sessions(self) -> None:
        with self.lock:
            for session in self.sessions.values():
                session.expired = True

    def count_api_request(self) -> str:
        """Count one API call; returns the Sforce-Limit-Info header value."""
        with self.lock:
            self.api_requests += 1
            return f"api-usage={self.api_requests}/{self.settings.daily_api_requests}"
