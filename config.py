"""Configuration classes; every setting can come from the environment."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

# Shipped only so that a developer checkout starts with nothing to configure.
DEV_SECRET_KEY = "dev-only-not-secret"


def _sqlite_default() -> str:
    """The embedded database: a file under instance/."""
    return f"sqlite:///{INSTANCE_DIR / 'governance.sqlite3'}"


def normalise_database_url(url: str) -> str:
    """Map the postgres:// spellings that hosting platforms hand out to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL") or _sqlite_default())
    # A pooled database connection idle for longer than this (seconds) is pinged before use and replaced if the
    # server closed it (governance.check_idle_connections); one used moments ago is not, saving a round trip
    # on every request.
    DB_PING_AFTER_IDLE = float(os.environ.get("DB_PING_AFTER_IDLE", "1"))
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Keys in a shared Redis are namespaced so that tests and several deployments can share a server.
    REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "gov:")
    # Web requests never wait long on Redis: each command times out after this many seconds, and after a
    # failure Redis is left alone for REDIS_BREAKER_SECONDS (redis_conn.py: the circuit breaker).
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.5"))
    REDIS_BREAKER_SECONDS = float(os.environ.get("REDIS_BREAKER_SECONDS", "5"))
    # Background work (governance/worker.py, services/jobs.py): RQ stops a job after JOB_TIMEOUT seconds; a
    # claim holds its outbox row for JOB_LEASE seconds, well beyond that, so a row still 'running' past its
    # lease belongs to a worker that died. The periodic round (SLA sweep, relay, nightly checks) runs every
    # PERIODIC_INTERVAL seconds; /healthz says "degraded" when none completed in PERIODIC_STALE_AFTER.
    JOB_TIMEOUT = int(os.environ.get("JOB_TIMEOUT", "180"))
    JOB_LEASE = int(os.environ.get("JOB_LEASE", "900"))
    # A 'pending' job younger than this is still being dispatched by the process that wrote it: the relay
    # leaves it alone.
    JOB_PENDING_GRACE = int(os.environ.get("JOB_PENDING_GRACE", "20"))
    PERIODIC_INTERVAL = float(os.environ.get("PERIODIC_INTERVAL", "60"))
    PERIODIC_STALE_AFTER = int(os.environ.get("PERIODIC_STALE_AFTER", "180"))
    # A worker heartbeat older than this (seconds) is not a live worker on /healthz (RQ beats at least
    # every ~45 s while idle).
    WORKER_STALE_AFTER = int(os.environ.get("WORKER_STALE_AFTER", "120"))
    # Who sees /healthz's details (queue counts, workers): requests from the machine itself, or carrying
    # this token as `Authorization: Bearer …`. Everyone else gets only the status.
    HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN") or None
    # The site's public address (e.g. https://wangcheng.example.cn): every absolute link — the poster's and
    # rating links' QR codes, Open311's endpoint and media_url — is built from it (urls.public_url), never from
    # the Host header. Required in production; unset in development: the request's host, never cached.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or None

    BABEL_DEFAULT_LOCALE = "zh"
    LANGUAGES = ("zh", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    # A login is a row in `login_session`, checked on every request (auth_session.py): it ends at logout,
    # after SESSION_IDLE_HOURS without a request, and SESSION_MAX_DAYS after the login whatever happens.
    SESSION_IDLE_TIMEOUT = timedelta(hours=float(os.environ.get("SESSION_IDLE_HOURS", "72")))
    SESSION_ABSOLUTE_LIFETIME = timedelta(days=float(os.environ.get("SESSION_MAX_DAYS", "30")))
    PERMANENT_SESSION_LIFETIME = SESSION_ABSOLUTE_LIFETIME  # the cookie never outlives its row
    # The cookie is sent only when the session changes: the login row, not the cookie, keeps the idle and
    # absolute limits, and a response that re-sent an unchanged cookie (a style sheet or script requested
    # just before a login and answered just after it) would put the logged-out cookie back.
    SESSION_REFRESH_EACH_REQUEST = False
    WTF_CSRF_TIME_LIMIT = None  # a form left open on a phone for hours must still submit
    # How many proxies in front of the app set X-Forwarded-For / -Proto (governance/client.py). 0: none,
    # the headers are ignored; behind one TLS proxy: 1. Login throttling and Open311 limits count per client.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

    # Password guessing (services/throttle.py), in a window of 15 minutes: 5 tries on one number from one
    # address, or 30 failures from one address, refuse that address; past 5 failures on a number from
    # anywhere, each address waits 2 s, 4 s, … up to 60 s before its next try (slowed, never locked).
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 30
    LOGIN_THROTTLE_WINDOW = 15 * 60
    LOGIN_DELAY_BASE = 2
    LOGIN_DELAY_MAX = 60

    ACTIVATION_CODE_TTL = timedelta(days=30)
    # A filing form carries up to 6 photos of up to PHOTO_MAX_BYTES each, plus its text fields.
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    ROSTER_MAX_BYTES = 5 * 1024 * 1024
    # Issue photos: stored re-encoded under server-chosen names, outside the static folder.
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(INSTANCE_DIR / "uploads")
    PHOTO_MAX_BYTES = 10 * 1024 * 1024
    PHOTO_MAX_PIXELS = 50_000_000  # a 50-megapixel phone camera; beyond that, a decompression bomb
    # Pixels decoded at full size (any format but JPEG, which is decoded at 1/2…1/8 scale first): a 12–16 MP phone
    # photo sent raw (4080×3060, 4000×4000). The page's script sends photos scaled to PHOTO_MAX_SIDE, far below it.
    PHOTO_MAX_DECODED_PIXELS = 16_000_000
    # Uploads decoding at once per process, and how long one waits for a slot before "busy, try again".
    PHOTO_DECODE_SLOTS = int(os.environ.get("PHOTO_DECODE_SLOTS", "1"))
    PHOTO_DECODE_WAIT = float(os.environ.get("PHOTO_DECODE_WAIT", "5"))
    PHOTO_MAX_SIDE = 2048  # stored photos are scaled down to this longest side
    PHOTO_THUMB_SIDE = 320
    PHOTOS_PER_ISSUE = 6
    # Exports: files of background exports live here (shared by web processes and workers);
    # lists longer than EXPORT_SYNC_LIMIT rows are prepared in the background with a progress page.
    EXPORT_DIR = os.environ.get("EXPORT_DIR") or str(INSTANCE_DIR / "exports")
    EXPORT_SYNC_LIMIT = int(os.environ.get("EXPORT_SYNC_LIMIT", "2000"))
    EXPORT_PROGRESS_EVERY = 500
    HSTS = False
    DEMO_SCALE = 1.0

    # Open311 GeoReport v2 (/open311/v2/): the spec's defaults (90 days, 1,000 requests) and our limits.
    OPEN311_JURISDICTION_ID = os.environ.get("OPEN311_JURISDICTION_ID", "wangcheng.gov.cn")
    OPEN311_DEFAULT_DAYS = 90
    OPEN311_MAX_REQUESTS = 1000
    # POSTs per API key (in Redis, else the key's filings in the database); requests per address (Redis only).
    OPEN311_RATE_LIMIT = os.environ.get("OPEN311_RATE_LIMIT", "60/minute")
    OPEN311_IP_RATE_LIMIT = os.environ.get("OPEN311_IP_RATE_LIMIT", "600/minute")
    OPEN311_ENDPOINT_TYPE = os.environ.get("OPEN311_ENDPOINT_TYPE", "production")
    OPEN311_CHANGESET = os.environ.get("OPEN311_CHANGESET", "")  # empty: a fingerprint of the service list
    OPEN311_CONTACT = os.environ.get("OPEN311_CONTACT", "望城区基层治理平台：请联系区管理员")
    OPEN311_KEY_SERVICE = os.environ.get("OPEN311_KEY_SERVICE", "接口密钥由区或街镇管理员在“接口密钥”页面签发")

    # Residents' reports to their 邻长 (the no-login form of a 小区): per device (its cookie) and per address
    # (one phone network's shared address carries many residents) in any 24 hours; the same words about the
    # same 小区 are taken once per RESIDENT_REPORT_REPEAT_HOURS; a form carries at most RESIDENT_REPORT_PHOTOS
    # photos and RESIDENT_REPORT_MAX_BYTES in all.
    RESIDENT_REPORTS_PER_DEVICE = int(os.environ.get("RESIDENT_REPORTS_PER_DEVICE", "5"))
    RESIDENT_REPORTS_PER_ADDRESS = int(os.environ.get("RESIDENT_REPORTS_PER_ADDRESS", "40"))
    RESIDENT_REPORT_REPEAT_HOURS = 24
    RESIDENT_REPORT_PHOTOS = 3
    RESIDENT_REPORT_MAX_BYTES = 24 * 1024 * 1024


class DevelopmentConfig(Config):
    """The embedded default: SQLite, jobs in-process, demo world loaded."""

    DEBUG = False


class TestingConfig(Config):
    """Used by the test suite; the database URL is set by the fixtures."""

    TESTING = True
    WTF_CSRF_ENABLED = True
    LOGIN_THROTTLE_WINDOW = 15 * 60


class ProductionConfig(Config):
    """PostgreSQL, Redis, gunicorn: refuses to start without a real secret."""

    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") == "1"
    HSTS = True

    @classmethod
    def check(cls, settings: dict) -> None:
        """Refuse to run production with the development secret or a guessable one, or without PUBLIC_BASE_URL."""
        key = settings.get("SECRET_KEY") or ""
        if key == DEV_SECRET_KEY or len(key) < 32:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        base = urlsplit(settings.get("PUBLIC_BASE_URL") or "")
        if base.scheme not in ("http", "https") or not base.hostname:
            raise RuntimeError(
                "PUBLIC_BASE_URL must be set in production to the site's public address, for example "
                "PUBLIC_BASE_URL=https://wangcheng.example.cn: posters, QR codes and the Open311 API print "
                "absolute links from it, never from the Host header a visitor sends."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
