"""The HTTPS server and the SalesforceEmulator object tests drive and inspect."""

import copy
import socket
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from . import routes
from .certificate import make_certificate
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_USERNAME,
    Org,
)
from .web import Request, Response


class TLSServer(ThreadingHTTPServer):
    """A thread per connection; the TLS handshake runs in that thread, not the accept loop."""

    daemon_threads = True

    def __init__(self, address, handler, *, ssl_context: ssl.SSLContext, emulator) -> None:
        self.ssl_context = ssl_context
        self.emulator = emulator
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        # Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to every answer.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            request = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust us, or went away mid-handshake
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        # Clients that time out and hang up are part of the tests; stay quiet about them.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SalesforceEmulator"
    sys_version = ""
    timeout = 60  # idle keep-alive connections end eventually

    def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def handle_any(self) -> None:
        emulator = self.server.emulator
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        too_large = self.command == "PUT" and length > emulator.org.settings.max_upload_bytes
        if too_large:
            # Drain the body without keeping it; closing with unread data would reset the
            # connection and the client would never see the answer.
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            response = Response.json(
                [
                    {
                        "errorCode": "CLIENTINPUTERROR",
                        "message": "Exceeded max size limit of "
                        f"{emulator.org.settings.max_upload_bytes} bytes for job data",
                    }
                ],
                status=400,
            )
        else:
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("Host") or emulator.host
            request = Request.build(
                method=self.command,
                path=split.path,
                raw_query=split.query,
                headers=dict(self.headers.items()),
                body=body,
                base_url=f"https://{host}",
            )
            response = routes.dispatch(emulator.org, request, emulator.stopping)
        self.write(response)

    def write(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class SalesforceEmulator:
    """A running emulated Salesforce org over HTTPS.

    `url`, `host`, `ca_path` say where it is and what to trust; `org` holds the state and
    `reset()` replaces it with a fresh one. Default credentials: marketer@example.com /
    hunter2 / TOKEN123, connected app emulator-client-id / emulator-client-secret.
    """

    username = DEFAULT_USERNAME
    password = DEFAULT_PASSWORD
    security_token = DEFAULT_SECURITY_TOKEN
    client_id = DEFAULT_CLIENT_ID
    client_secret = DEFAULT_CLIENT_SECRET

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.bind_host = host
        self.bind_port = port
        self.org = Org()
        self.stopping = threading.Event()
        self.directory = None
        self.server = None
        self.thread = None

    # Lifecycle -------------------------------------------------------------------------

    def start(self) -> "SalesforceEmulator":
        self.directory = tempfile.TemporaryDirectory(prefix="salesforce-emulator-")
        cert_path, key_path = make_certificate(Path(self.directory.name), host=self.bind_host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.ca_path = str(cert_path)
        self.server = TLSServer(
            (self.bind_host, self.bind_port), Handler, ssl_context=context, emulator=self
        )
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="salesforce-emulator", daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.directory is not None:
            self.directory.cleanup()

    def __enter__(self) -> "SalesforceEmulator":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def host(self) -> str:
        """host:port, the form SALESFORCE_ALLOWED_HOSTS takes."""
        return f"{self.bind_host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def reset(self) -> None:
        """Forget every record, job, session, fault and setting change."""
        self.org = Org()

    # State for tests ---------------------------------------------------------------------

    @property
    def settings(self):
        """Knobs: session_seconds, processing_delay, max_upload_bytes, max_records_per_upload."""
        return self.org.settings

    @property
    def schema(self):
        return self.org.schema

    def records(self, object_name: str) -> list[dict]:
        """Copies of the live records of an object, in creation order."""
        name = self.org.schema.object_name(object_name)
        with self.org.lock:
            return copy.deepcopy(list(self.org.store.records[name].values()))

    def recycle_bin(self, object_name: str) -> list[dict]:
        """Copies of the soft-deleted records of an object."""
        name = self.org.schema.object_name(object_name)
        with self.org.lock:
            return copy.deepcopy(list(self.org.store.bin[name].values()))

    def insert_records(self, object_name: str, records: list[dict]) -> list[str]:
        """Store records as given (stored forms: bool, float, "YYYY-MM-DD"); returns their Ids."""
        name = self.org.schema.object_name(object_name)
        ids = []
        with self.org.lock:
            for values in records:
                for field_name in values:
                    if self.org.schema.field(name, field_name) is None:
                        raise KeyError(f"{name} has no field {field_name}")
                ids.append(self.org.store.create(name, dict(values))["Id"])
        return ids

    def inject(self, fault: str, **options):
        """Arm a fault; see faults.KINDS. Common options: times (None = always), path, method."""
        return self.org.faults.add(fault, **options)

    @property
    def jobs(self) -> list:
        """Ingest jobs in creation order (IngestJob objects; .full_info() gives the JSON)."""
        with self.org.lock:
            return list(self.org.ingest_jobs.values())

    @property
    def query_jobs(self) -> list:
        with self.org.lock:
            return list(self.org.query_jobs.values())

    @property
    def requests_log(self) -> list[tuple[str, str]]:
        with self.org.lock:
            return list(self.org.requests_log)

    def add_user(self, username: str, password: str, security_token: str, **options):
        """Add a user; options: locked, api_enabled, token_required, hard_delete_allowed."""
        return self.org.add_user(username, password, security_token, **options)

    def user(self, username: str = DEFAULT_USERNAME):
        """The user record, to change (e.g. `.locked = True`)."""
        return self.org.user(username)

    def add_connected_app(self, client_id: str, client_secret: str, **options):
        """Add a connected app; options: callback_urls, run_as, refresh_token_rotation."""
        return self.org.add_app(client_id, client_secret, **options)

    def connected_app(self, client_id: str = DEFAULT_CLIENT_ID):
        return self.org.apps[client_id]

    def new_session(self, username: str = DEFAULT_USERNAME) -> str:
        """A valid session id without an HTTP login (for tests about other things)."""
        return self.org.open_session(username).token

    def expire_sessions(self) -> None:
        """Every current session id / access token now answers 401 INVALID_SESSION_ID."""
        self.org.expire_sessions()

    def wait_for_jobs(self, timeout: float = 10.0) -> None:
        """Block until no job is waiting or being processed."""
        deadline = time.monotonic() + timeout
        busy = ("UploadComplete", "InProgress")
        while any(job.state in busy for job in self.jobs + self.query_jobs):
            if time.monotonic() > deadline:
                raise TimeoutError("emulator jobs still running")
            time.sleep(0.01)
