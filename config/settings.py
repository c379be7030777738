"""The only settings module: every deployment value comes from an environment variable.

With no environment at all the service runs on a laptop: SQLite, a Celery broker on the
filesystem, mail printed to the console, and a development secret key.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """The variable's value; unset or empty means the default (as for every helper here)."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if not value:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = env_str(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from None
    return env_str(name, default)


DEBUG = env_bool("DEBUG", False)
# Public development keys (they are in this file): with DEBUG off, the web and Celery
# processes refuse to start with them (config/keys.py); settings refuse them for HTTPS.
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105
DEVELOPMENT_ENCRYPTION_KEY = "8bxYQe3rJX6fGQmV3p2vFQp5m0a7i1ZlH6u0d0e9b1M="
SECRET_KEY = env_secret("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The absolute address of this service, used for links in e-mails and the OAuth callback.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Served over HTTPS (SITE_URL says so), cookies go over HTTPS only; plain http on a laptop
# (bin/serve on http://127.0.0.1:8000) keeps working with the defaults.
SERVED_OVER_HTTPS = SITE_URL.lower().startswith("https://")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SERVED_OVER_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SERVED_OVER_HTTPS)
# The UI and htmx read the CSRF token from the page, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (only then: the header is
# trusted as is).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front of the service append to X-Forwarded-For: the client's address
# (for throttles) is the N-th from the right. 0: no proxy, the header is ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# The Content-Security-Policy header of every page (common/csp.py).
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'",
)
X_FRAME_OPTIONS = "DENY"

# Fernet keys (urlsafe base64, 32 bytes) for secrets at rest, comma-separated: the first
# encrypts, every one decrypts, so a key can be rotated in without losing stored secrets.
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEYS") or [DEVELOPMENT_ENCRYPTION_KEY]
# A site served over HTTPS is a real deployment, where the public development keys would let
# anyone forge sessions or decrypt stored secrets. (The development Fernet key may stay as a
# later, decrypt-only key while secrets are rotated away from it.)
if SERVED_OVER_HTTPS and not DEBUG:
    for _name, _in_use in (
        ("SECRET_KEY", SECRET_KEY == DEVELOPMENT_SECRET_KEY),
        ("ENCRYPTION_KEYS", ENCRYPTION_KEYS[0] == DEVELOPMENT_ENCRYPTION_KEY),
    ):
        if _in_use:
            raise ImproperlyConfigured(
                f"{_name} still holds the public development key while SITE_URL is https: "
                f"set {_name} to a key of your own."
            )

# Hosts (host or host:port) besides Salesforce's own that a connection may log in to:
# the emulator in tests and demos, or a private gateway.
SALESFORCE_ALLOWED_HOSTS = env_list("SALESFORCE_ALLOWED_HOSTS")

# Sources (databases parent segments read from). Hosts (host, or host:port) a source may reach
# although they are loopback, link-local or cloud metadata addresses; the directory under which
# file-based sources (SQLite, DuckDB) may be opened (empty: none may); timeouts in seconds.
SOURCE_ALLOWED_HOSTS = env_list("SOURCE_ALLOWED_HOSTS")
SOURCE_FILE_ROOT = env_str("SOURCE_FILE_ROOT")
SOURCE_STATEMENT_TIMEOUT = env_int("SOURCE_STATEMENT_TIMEOUT", 300)
# A refresh's read streams for as long as the import it feeds takes.
SOURCE_REFRESH_TIMEOUT = env_int("SOURCE_REFRESH_TIMEOUT", 3600)
SOURCE_CONNECT_TIMEOUT = env_int("SOURCE_CONNECT_TIMEOUT", 10)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "workspaces",
    "sources",
    "segments",
    "connectors",
    "activations",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.csp.ContentSecurityPolicyMiddleware",
    "common.middleware.RefuseUnstorableQueryMiddleware",
    # Serves the UI's CSS/JS and the API docs' assets with DEBUG off, in production too.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workspaces.context_processors.workspace",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

_SQLITE_OPTIONS = {
    # Concurrent web + worker + beat on one SQLite file: without these, writes fail with
    # "database is locked" under load (measured in shared/RECIPES.md).
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = _SQLITE_OPTIONS
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Uploads above this go to a temporary file, so a large CSV never sits in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10_485_760)

# Throttle counters and other shared state: Redis when REDIS_URL (or CACHE_URL) is set,
# else the database (table "django_cache", created by a migration), so that every web
# process counts against the same limits; never per-process memory.
CACHE_URL = env_str("CACHE_URL") or env_str("REDIS_URL")
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }

# The largest profile CSV an upload may send (bytes), counted while it streams
# (common/uploads.py); and the longest line or row it may hold (a longer one is a 400 naming
# the line, segments/loading.py).
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 2 * 1024**3)
FILE_UPLOAD_HANDLERS = [
    "common.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
MAX_CSV_LINE_BYTES = env_int("MAX_CSV_LINE_BYTES", 1024**2)

# Mail: console by default; SMTP when EMAIL_HOST is set.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "activations@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# Celery: a filesystem broker needs no server; set CELERY_BROKER_URL=redis://... or amqp://...
# in production.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)  # kombu does not create them
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
else:
    # Redis (and SQS) redeliver a message not acknowledged within this time. A run's task is
    # acknowledged at its end (late), and one job of a run can take hours, so this stays well
    # above the longest step; a dead worker's run is resumed by the stale-heartbeat check
    # (activations/runner.py) long before, and a redelivered message finds it claimed.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 12 * 3600)
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# No result backend, so beat must not schedule its daily result cleanup.
CELERY_RESULT_EXPIRES = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A message is acknowledged after the task ran, so a killed worker's run is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "activations.scheduler:ActivationScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
# Fixed jobs; beat's DatabaseScheduler copies them into its PeriodicTask table at start.
CELERY_BEAT_SCHEDULE = {
    # Runs whose worker died are failed (heartbeat older than RUN_STALE_AFTER_SECONDS), and
    # queued runs whose task message was lost are sent again.
    "activations-mark-stale-runs": {"task": "activations.mark_stale_runs", "schedule": 60.0},
    # Every segment's audience size, for its chart and the drift mail (daily, 03:15 UTC).
    "segments-record-audience-sizes": {
        "task": "segments.record_audience_sizes",
        "schedule": crontab(minute="15", hour="3"),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "common.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "common.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "common.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "token": env_str("THROTTLE_TOKEN", "20/min"),
        "run_create": env_str("THROTTLE_RUN_CREATE", "60/min"),
        # Failed sign-ins per client address, on /login/ and /admin/login/.
        "login": env_str("THROTTLE_LOGIN", "30/hour"),
        # Connection (and source) tests per user: each one logs in to the remote system.
        "connection_test": env_str("THROTTLE_CONNECTION_TEST", "10/min"),
        "source_test": env_str("THROTTLE_SOURCE_TEST", "10/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
REST_KNOX = {"TOKEN_TTL": datetime.timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 24 * 30))}

SPECTACULAR_SETTINGS = {
    "TITLE": "Segment Activation API",
    "DESCRIPTION": "Parent segments, segments, Salesforce connections, activations and runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so read-only fields are required in responses.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc served from our static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# How long a run may go without a heartbeat before it is declared dead and marked failed.
RUN_STALE_AFTER_SECONDS = env_int("RUN_STALE_AFTER_SECONDS", 600)
# How many times a run whose worker died is resumed from its recorded steps before it fails.
RUN_MAX_RESUMES = env_int("RUN_MAX_RESUMES", 5)
# Scheduled runs that fail on configuration this many times in a row disable the activation.
ACTIVATION_DISABLE_AFTER_FAILURES = env_int("ACTIVATION_DISABLE_AFTER_FAILURES", 3)
# An audience size that moves by more than this share from its previous record (daily or at
# a run) mails the workspace's owners and editors; in percent, e.g. 20.
AUDIENCE_DRIFT_SHARE = env_int("AUDIENCE_DRIFT_PERCENT", 20) / 100

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
