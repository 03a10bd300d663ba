"""The 片-组-邻 governance tracker: app factory."""

from __future__ import annotations

import hashlib
import logging
import os
import time

from flask import Flask, g, request, session
from jinja2 import FileSystemBytecodeCache
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from config import CONFIGS, INSTANCE_DIR

from .extensions import babel, csrf, db, login_manager, migrate


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the application for one environment ('development', 'testing', 'production')."""
    config_name = config_name or os.environ.get("GOVERNANCE_ENV") or "development"
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(CONFIGS[config_name])
    if overrides:
        app.config.update(overrides)
    check = getattr(CONFIGS[config_name], "check", None)
    if check:
        check(app.config)
    os.makedirs(app.instance_path, exist_ok=True)

    from .client import TrustedProxies

    app.wsgi_app = TrustedProxies(app)  # the client's address behind TRUSTED_PROXIES proxies (client.py)
    register_extensions(app)
    register_access(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_cli(app)
    register_session_hooks(app)
    register_jobs(app)
    register_template_helpers(app)
    logging.getLogger("governance").setLevel(logging.INFO)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extensions created in extensions.py."""
    from . import auth_session

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    auth_session.configure(login_manager, app)
    babel.init_app(app, locale_selector=select_locale)
    with app.app_context():
        for engine in db.engines.values():
            check_idle_connections(engine, app.config["DB_PING_AFTER_IDLE"])


def select_locale():
    """Chinese unless the person chose English (session first, then their saved choice)."""
    from flask import current_app, has_request_context
    from flask_login import current_user

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs speak the default language
        return _locale(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = session.get("lang")
    if chosen in languages:
        return _locale(chosen)
    saved = getattr(current_user, "locale", None) if current_user else None
    if saved in languages:
        return _locale(saved)
    return _locale(current_app.config["BABEL_DEFAULT_LOCALE"])


_LOCALES: dict = {}


def _locale(code: str):
    """The parsed locale of a language code, parsed once per process: Babel's parsing looks for the locale's
    data file on disk, and Flask-Babel would parse the code afresh on every request (a parsed one it takes as
    is)."""
    found = _LOCALES.get(code)
    if found is None:
        from babel import Locale

        found = _LOCALES[code] = Locale.parse(code)
    return found


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, enforced foreign keys and a busy timeout on every SQLite connection."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def check_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """A pooled server connection idle for longer than `idle_seconds` is pinged before it is handed out, and
    replaced if the server has closed it (a database restart, an idle timeout): the request then runs on a
    fresh one instead of failing.

    SQLAlchemy's pool_pre_ping pings on every checkout, one round trip more on every request; a connection
    given back moments ago was just working, so (like HikariCP's alive-bypass window) it is handed out as is.
    A server restart takes longer than the window, so every connection it closed has been idle longer and is
    pinged. SQLite's connections are files: nothing to ping."""
    if engine.dialect.name == "sqlite":
        return
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def note_checkin(dbapi_connection, connection_record):
        connection_record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, connection_record, connection_proxy):
        # Raising DisconnectionError makes the pool drop this connection and hand out a new one.
        checked_in_at = connection_record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return  # new, or given back moments ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                raise DisconnectionError(str(err)) from err
            raise
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")


def register_access(app: Flask) -> None:
    """Deny every endpoint that no decorator opened."""
    from .access import enforce, reject_nul

    app.before_request(reject_nul)
    app.before_request(enforce)


def register_blueprints(app: Flask) -> None:
    """Mount each blueprint; <int:…> in every route only matches ids the databases can hold."""
    from .urls import DatabaseIntConverter

    app.url_map.converters["int"] = DatabaseIntConverter
    from .blueprints.admin import bp as admin_bp
    from .blueprints.apikeys import bp as apikeys_bp
    from .blueprints.audit import bp as audit_bp
    from .blueprints.auth import bp as auth_bp
    from .blueprints.exports import bp as exports_bp
    from .blueprints.filing import bp as filing_bp
    from .blueprints.inbox import bp as inbox_bp
    from .blueprints.issues import bp as issues_bp
    from .blueprints.main import bp as main_bp
    from .blueprints.money import bp as money_bp
    from .blueprints.notices import bp as notices_bp
    from .blueprints.open311 import bp as open311_bp
    from .blueprints.public import bp as public_bp
    from .blueprints.reports import bp as reports_bp
    from .blueprints.resident_reports import bp as resident_reports_bp
    from .blueprints.roster import bp as roster_bp
    from .blueprints.settings import bp as settings_bp
    from .blueprints.surveys import bp as surveys_bp
    from .blueprints.tree import bp as tree_bp
    from .blueprints.triage import bp as triage_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(tree_bp, url_prefix="/tree")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(roster_bp, url_prefix="/admin/roster")
    app.register_blueprint(filing_bp, url_prefix="/file")
    app.register_blueprint(issues_bp, url_prefix="/issues")
    app.register_blueprint(inbox_bp, url_prefix="/inbox")
    app.register_blueprint(notices_bp, url_prefix="/notices")
    app.register_blueprint(surveys_bp, url_prefix="/surveys")
    app.register_blueprint(resident_reports_bp, url_prefix="/resident-reports")
    app.register_blueprint(settings_bp, url_prefix="/admin/settings")
    app.register_blueprint(money_bp, url_prefix="/money")
    app.register_blueprint(triage_bp, url_prefix="/triage")
    app.register_blueprint(audit_bp, url_prefix="/admin/audit")
    app.register_blueprint(open311_bp, url_prefix="/open311/v2")
    app.register_blueprint(apikeys_bp, url_prefix="/admin/api-keys")
    app.register_blueprint(public_bp, url_prefix="/p")
    app.register_blueprint(exports_bp, url_prefix="/exports")
    app.register_blueprint(reports_bp, url_prefix="/reports")


def register_errorhandlers(app: Flask) -> None:
    """Friendly 400/401/403/404/405/413/500 pages; the request's transaction is rolled back."""
    from flask import render_template
    from flask_wtf.csrf import CSRFError

    def render(error, code):
        db.session.rollback()
        return render_template("errors/error.html", code=code, error=error), code

    for code in (400, 401, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, lambda e, c=code: render(e, c))
    app.register_error_handler(CSRFError, lambda e: render(e, 400))


def register_security_headers(app: Flask) -> None:
    """CSP, nosniff, frame-ancestors and Referrer-Policy on every response."""
    from .urls import links_from_request_host

    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    )

    @app.after_request
    def add_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(self), geolocation=(self), microphone=()"
        if app.config.get("HSTS"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if getattr(g, "private_page", True) and request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        if links_from_request_host():  # an absolute link from the Host header (no PUBLIC_BASE_URL): never shared
            response.headers["Cache-Control"] = "no-store"
        return response


def register_cli(app: Flask) -> None:
    """`flask roster …`, `flask demo …`, `flask ledger …`, `flask rollups …`."""
    from .cli import demo_cli, households_cli, ledger_cli, outbox_cli, rollups_cli, roster_cli

    app.cli.add_command(roster_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(rollups_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(households_cli)


def register_session_hooks(app: Flask) -> None:
    """The database session's listeners, each kept by the module it serves (registered once per process,
    since every app shares the scoped session): changes to issues refresh the cached public pages,
    committed jobs are noted for dispatch, and every flush keeps the report rollups in step."""
    from .services.platform import jobs
    from .services.public import page_cache
    from .services.reports import rollups

    page_cache.register_session_hooks(app)
    jobs.register_session_hooks()
    rollups.register_session_hooks(app)


def register_jobs(app: Flask) -> None:
    """Load the handler of every job kind (jobs.JOB_MODULES) and dispatch each request's committed jobs after
    it. The worker builds this same app, so it runs with the same handlers."""
    from .services.platform import jobs

    jobs.load_handlers()
    jobs.register_dispatch(app)


def _template_cache_dir(app: Flask) -> str:
    """A directory for compiled templates, named after what the compiled code depends on besides the
    template's source (which Jinja checks itself): Jinja's version and the environment's options."""
    import jinja2

    env = app.jinja_env
    options = f"{jinja2.__version__}|{sorted(env.extensions)}|{env.trim_blocks}|{env.lstrip_blocks}|{env.autoescape}"
    path = os.path.join(app.instance_path, "jinja-cache", hashlib.sha256(options.encode()).hexdigest()[:12])
    os.makedirs(path, exist_ok=True)
    return path


def register_template_helpers(app: Flask) -> None:
    """Globals the templates use: the policy, the interface language, and the labels and clocks of
    governance.formatting."""
    from flask_babel import get_locale

    from . import formatting, navigation, policy, static_files

    formatting.register(app)
    static_files.register(app)
    app.jinja_env.globals.update(allowed=policy.allowed, get_locale=get_locale)
    # Every staff page's frame: the top bar (what the features declare) and the footer.
    app.jinja_env.globals.update(top_bar=navigation.top_bar, footer=navigation.footer)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    # Compiled templates kept across restarts: a fresh worker process renders its first pages sooner.
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache(_template_cache_dir(app))
