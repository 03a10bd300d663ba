"""GeoReport v2 endpoints: discovery, services, service definitions, requests (GET, POST), tokens.

Every resource takes a format suffix (.xml or .json). Reads are public and cacheable for a minute;
a POST is authenticated by its api_key alone (in the POST body, as the spec says; a request with
an api_key in its URL is refused, since URLs end up in logs), so it is exempt from CSRF and the API
never uses or sets a session cookie.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from ...access import public
from ...client import client_address
from ...extensions import csrf, db
from ...services.issues import places
from ...services.public import open311 as service
from ...services.public.open311 import FORMATS, Open311Error
from ...urls import public_url
from . import bp
from .render import errors, respond

csrf.exempt(bp)

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
QUERY_KEY_REFUSED = (
    "api_key must be sent in the body of the POST (application/x-www-form-urlencoded or multipart/form-data), "
    "never in the URL, which is written to access logs; reads need no api_key. Nothing was done."
)


def asked_format() -> str:
    """The format of this request: the route's suffix, else the path's; JSON when it is neither xml nor json."""
    fmt = (request.view_args or {}).get("fmt")
    if fmt is None:
        fmt = request.path.rsplit(".", 1)[-1] if "." in request.path.rsplit("/", 1)[-1] else ""
    return fmt if fmt in FORMATS else "json"


@bp.before_request
def api_request():
    """No session (a browser's cookie is neither read nor refreshed), a known format, our jurisdiction, the rate."""
    request_ctx._session = current_app.session_interface.make_null_session(current_app)
    if "api_key" in request.args:  # a key in the URL is written to every access log and proxy log on the way
        raise Open311Error(400, QUERY_KEY_REFUSED)
    fmt = (request.view_args or {}).get("fmt")
    if fmt is not None and fmt not in FORMATS:
        raise Open311Error(400, f"format {fmt!r} is not supported: use .xml or .json")
    jurisdiction = (request.values.get("jurisdiction_id") or "").strip()
    if jurisdiction and jurisdiction != current_app.config["OPEN311_JURISDICTION_ID"]:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction[:80]!r} was not found")
    service.check_ip_rate(client_address())


@bp.after_request
def api_headers(response):
    """Any site may read the public data; successful reads may be cached for a minute, nothing else."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method in ("GET", "HEAD") and response.status_code == 200:
        g.private_page = False
        response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.errorhandler(Open311Error)
def api_error(err: Open311Error):
    """A refusal in the spec's error format; nothing the request changed is kept."""
    db.session.rollback()
    response = errors(asked_format(), err.status, err.description)
    if err.retry_after:
        response.headers["Retry-After"] = str(err.retry_after)
    return response


def http_error(err: HTTPException):
    """Werkzeug's errors (a NUL in the input, a body too large, a crash) in the spec's format too."""
    db.session.rollback()
    response = errors(asked_format(), err.code or 500, err.name)
    if isinstance(err, MethodNotAllowed) and err.valid_methods:
        response.headers["Allow"] = ", ".join(err.valid_methods)
    return response


# By code: Flask prefers the app's handler for a code over a blueprint's handler for a class.
for _code in (400, 401, 403, 404, 405, 413, 429, 500):
    bp.register_error_handler(_code, http_error)


@bp.route("/discovery.<fmt>")
@public
def discovery(fmt: str):
    """Service discovery: where the GeoReport v2 endpoint is, which formats, how to get a key."""
    endpoint = public_url("open311.discovery", fmt="xml").rsplit("/", 1)[0]
    return respond(fmt, "discovery", service.discovery(endpoint))


@bp.route("/services.<fmt>")
@public
def services(fmt: str):
    """GET Service List: one service per active category."""
    return respond(fmt, "services", [service.service_of(c) for c in places.active_categories()], "service")


@bp.route("/services/<code>.<fmt>")
@public
def service_definition(code: str, fmt: str):
    """GET Service Definition: the urgency attribute every category asks for."""
    return respond(fmt, "service_definition", service.service_definition(code))


@bp.route("/requests.<fmt>", methods=["GET", "POST"])
@public
def requests(fmt: str):
    """GET Service Requests (public, filtered, newest first, at most 1,000) or POST a new one with an api_key."""
    if request.method == "POST":
        receipt = service.create_request(request.form, request.form.get("api_key"))
        db.session.commit()
        return respond(fmt, "service_requests", [receipt], "request")
    query = service.parse_query(request.args)
    return respond(fmt, "service_requests", service.find_requests(query), "request")


@bp.route("/requests/<request_id>.<fmt>")
@public
def one_request(request_id: str, fmt: str):
    """GET Service Request: one public issue by its reference."""
    return respond(fmt, "service_requests", [service.one_request(request_id)], "request")


@bp.route("/tokens/<token>.<fmt>")
@public
def token(token: str, fmt: str):
    """GET service_request_id from a token (the token a POST returned)."""
    return respond(fmt, "service_requests", [service.token_request(token)], "request")


@bp.route("/", methods=ANY_METHOD)
@bp.route("/<path:rest>", methods=ANY_METHOD)
@public
def unknown(rest: str = ""):
    """Anything else under /open311/v2/: 405 for a resource asked with the wrong method, 404 (GET) or 400 otherwise."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _args = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "open311.unknown":
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    if request.method in ("GET", "HEAD"):
        raise NotFound()
    # The spec's general error for a request to no resource at all ("the URL request is invalid").
    raise Open311Error(400, "The URL request is invalid: no Open311 resource here")
