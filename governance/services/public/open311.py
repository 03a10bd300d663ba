"""Open311 GeoReport v2 (开放接口): the public issues as service requests, and filing by API-key holders.

Every request element is built from services.public.projection, so the API can show nothing the
public pages do not. Also here: API keys (issued by admins, bound to a node, shown once, stored
as a SHA-256 digest), their rate limits, and the demo key. Functions flush and never commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ... import policy
from ...extensions import db
from ...formatting import BEIJING
from ...models import OPEN_STATUSES, ApiKey, Category, Issue, Node, Person, Photo, utcnow
from ...parsing import parse_id
from ...redis_conn import answering_redis
from ...redis_conn import key as redis_key
from ...urls import public_url
from ..errors import ServiceError
from ..issues import places
from ..issues.lifecycle import MAX_TITLE, IssueInput, LifecycleError, file_issue
from . import projection

log = logging.getLogger("governance.open311")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# The one attribute the filing form asks for every category (docs/DESIGN.md §3): exposed as a service definition.
URGENCY_VALUES = (("normal", "一般"), ("urgent", "紧急"))
MAX_DESCRIPTION = 4000  # the spec's limit for a request's description
MAX_IDS = 1000  # service_request_id lists longer than a full answer are refused
DEMO_KEY = "demo-open311-wangcheng-2026"
DEMO_KEY_NAME = "演示客户端"
KEY_LEVELS = ("district", "street", "community")  # what the admin page binds keys to
KEY_ADMIN_ROLES = ("street_admin", "district_admin")  # who issues and revokes keys (policy: manage_api_keys)
# w3 "NOTE-datetime": a complete date, or a date and time (minutes, optional seconds) with a zone.
W3_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?")


class Open311Error(ServiceError):
    """A refusal the API reports as <errors><error>: `status` is the HTTP status, `code` the description."""

    def __init__(self, status: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.http_status = status
        self.description = description
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        """The status the API answers with, as the refusal gave it."""
        return self.http_status

    @property
    def message(self) -> str:
        """The API's own description (in English, as GeoReport v2 clients read it)."""
        return self.description


class ApiKeyError(ServiceError):
    """A refused API-key change on the admin page: the form is shown again, saying the key was not issued."""

    FALLBACK = _l("The key could not be issued; please try again.")
    DEFAULT_STATUS = 200


# --- formatting ------------------------------------------------------------------------------------


def w3_time(value: datetime | None) -> str | None:
    """ISO 8601 (w3 profile) in Beijing time with its offset, e.g. 2026-03-05T14:20:00+08:00."""
    if value is None:
        return None
    if value.tzinfo is None:  # stored values are aware; a naive one is UTC by the model's rule
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING).isoformat(timespec="seconds")


def parse_w3(text: str, field_name: str) -> datetime:
    """A start_date/end_date: a date (Beijing midnight) or a date-time with its zone; 400 otherwise."""
    text = (text or "").strip()
    if not W3_DATETIME.fullmatch(text):
        raise Open311Error(
            400, f"{field_name} must be a w3 ISO 8601 date-time with a timezone, e.g. 2026-01-01T00:00:00+08:00"
        )
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.min, BEIJING).astimezone(UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise Open311Error(400, f"{field_name} is not a valid date-time") from None


def media_url(photo_id: int | None) -> str | None:
    """The public URL of a photo marked public (the public pages serve it under /p/photo/<id>)."""
    if photo_id is None:
        return None
    # The public blueprint serves the photo and its thumbnail from one view: ask for the photo.
    return public_url("public.photo", photo_id=photo_id, thumb=False)


# --- services (categories) ---------------------------------------------------------------------------


def service_of(category: Category) -> dict:
    """One <service> of GET services: every category asks for urgency, so metadata is true."""
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": category.name_en or None,
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(part for part in (category.name_zh, category.name_en, category.code) if part),
        "group": None,
    }


def service_definition(code: str) -> dict:
    """The <service_definition> of an active category: the urgency attribute; 404 when unknown."""
    category = db.session.scalar(select(Category).where(Category.code == (code or "")[:32], Category.active.is_(True)))
    if category is None:
        raise Open311Error(404, f"service_code {code!r} was not found")
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": "urgency",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "normal 或 urgent，默认 normal",
                "order": 1,
                "description": "紧急程度",
                "values": [{"key": key, "name": name} for key, name in URGENCY_VALUES],
            }
        ],
    }


# --- requests (issues) -------------------------------------------------------------------------------


def request_of(item: projection.PublicIssue, latest_update: str, photo_id: int | None) -> dict:
    """One <request> from an issue's public projection, and nothing else.

    `status` is Open311's open/closed; `status_notes` says when the responsible party has not accepted
    yet, then gives the latest public update (public.status_notes).

    The title and description are the leader's words (they may name people), so `description` stays
    empty; the place is the coarse public place; coordinates are never public, so lat/long are left out.
    """
    element = {
        "service_request_id": item.reference,
        "status": item.open311_status,
        "status_notes": projection.status_notes(item, latest_update) or None,
        "service_name": item.category_zh,
        "service_code": item.category_code,
        "description": None,
        "agency_responsible": item.assignee or None,
        "service_notice": None,
        "requested_datetime": w3_time(item.created_at),
        "updated_datetime": w3_time(item.updated_at),
        "expected_datetime": w3_time(item.expected_at),
        "address": item.place or None,
        "address_id": None,
        "zipcode": None,
        "media_url": media_url(photo_id),
    }
    if element["expected_datetime"] is None:  # "may not be returned": an empty date-time would not parse
        del element["expected_datetime"]
    return element


def first_public_photos(issue_ids: list[int]) -> dict[int, int]:
    """The first photo marked public of each issue, in one query."""
    if not issue_ids:
        return {}
    rows = db.session.execute(
        select(Photo.issue_id, func.min(Photo.id))
        .where(Photo.issue_id.in_(issue_ids), Photo.public.is_(True))
        .group_by(Photo.issue_id)
    )
    return dict(rows.all())


def requests_for(items: list[projection.PublicIssue]) -> list[dict]:
    """<request> elements for a list of public issues (two more queries, whatever the length)."""
    ids = [item.id for item in items]
    updates = projection.latest_updates(ids)
    photos = first_public_photos(ids)
    return [request_of(item, updates.get(item.id, ""), photos.get(item.id)) for item in items]


def one_request(reference: str) -> dict:
    """GET requests/{id}: the public issue with this reference; 404 when unknown."""
    item = projection.public_issue(reference, with_timeline=True)
    if item is None:
        raise Open311Error(404, f"service_request_id {reference!r} was not found")
    return request_of(item, item.latest_update, item.photo_ids[0] if item.photo_ids else None)


def token_request(token: str) -> dict:
    """GET tokens/{token}: the service_request_id a POST's token stands for; 404 when unknown."""
    token = (token or "").strip()[:40]
    reference = db.session.scalar(select(Issue.reference).where(Issue.open311_token == token)) if token else None
    if reference is None:
        raise Open311Error(404, "token was not found")
    return {"service_request_id": reference, "token": token}


def _split(value: str | None) -> list[str]:
    """A comma-delimited argument as its non-empty items."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass
class RequestQuery:
    """GET requests' arguments, checked (400 for anything not understood)."""

    references: list[str] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    statuses: set[str] = field(default_factory=set)
    start: datetime | None = None
    end: datetime | None = None


def parse_query(args) -> RequestQuery:
    """Read service_request_id, service_code, status, start_date and end_date as the spec defines them.

    service_request_id overrides every other argument. Otherwise the window is at most 90 days: both
    dates as given (400 beyond 90 days), one date and 90 days from it, or else the most recent 90 days.
    """
    window = timedelta(days=int(current_app.config["OPEN311_DEFAULT_DAYS"]))
    query = RequestQuery()
    ids = _split(args.get("service_request_id"))
    if ids:
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"at most {MAX_IDS} service_request_id values at once")
        query.references = [reference.upper()[:24] for reference in ids]
        return query
    codes = _split(args.get("service_code"))
    if codes:
        found = dict(db.session.execute(select(Category.code, Category.id).where(Category.code.in_(codes))).all())
        unknown = [code for code in codes if code not in found]
        if unknown:
            raise Open311Error(400, f"service_code {unknown[0]!r} was not found")
        query.category_ids = sorted(set(found.values()))
    statuses = {status.lower() for status in _split(args.get("status"))}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both (comma delimited)")
    query.statuses = statuses
    start_text, end_text = (args.get("start_date") or "").strip(), (args.get("end_date") or "").strip()
    start = parse_w3(start_text, "start_date") if start_text else None
    end = parse_w3(end_text, "end_date") if end_text else None
    try:
        if start is None and end is None:
            end = utcnow()
            start = end - window
        elif start is None:
            start = end - window
        elif end is None:
            end = start + window
    except OverflowError:
        raise Open311Error(400, "start_date or end_date is out of range") from None
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    if end - start > window:
        raise Open311Error(400, f"start_date and end_date may not span more than {window.days} days")
    query.start, query.end = start, end
    return query


def internal_statuses(statuses: set[str]) -> list[str]:
    """Our statuses behind Open311's open/closed (all of them when no filter was given)."""
    everything = [*OPEN_STATUSES, *projection.OPEN311_CLOSED]
    if not statuses or statuses == {"open", "closed"}:
        return everything
    if statuses == {"closed"}:
        return list(projection.OPEN311_CLOSED)
    return [status for status in everything if status not in projection.OPEN311_CLOSED]


def find_requests(query: RequestQuery) -> list[dict]:
    """GET requests: newest first, at most OPEN311_MAX_REQUESTS, as <request> elements.

    Two steps so that 1M issues stay cheap: the ids come from the (status, created_at) index alone
    (status IN every status lets it serve a created_at range), then the page's rows are projected.
    """
    limit = int(current_app.config["OPEN311_MAX_REQUESTS"])
    if query.references:
        statement = projection.public_query().where(Issue.reference.in_(query.references))
        items = projection.public_issues(statement.order_by(Issue.created_at.desc(), Issue.id.desc()).limit(limit))
        return requests_for(items)
    ids_query = select(Issue.id).where(
        Issue.status.in_(internal_statuses(query.statuses)),
        Issue.created_at >= query.start,
        Issue.created_at <= query.end,
    )
    if query.category_ids:
        ids_query = ids_query.where(Issue.category_id.in_(query.category_ids))
    ids = list(db.session.scalars(ids_query.order_by(Issue.created_at.desc(), Issue.id.desc()).limit(limit)))
    if not ids:
        return []
    statement = projection.public_query().where(Issue.id.in_(ids)).order_by(Issue.created_at.desc(), Issue.id.desc())
    return requests_for(projection.public_issues(statement))


# --- API keys -------------------------------------------------------------------------------------------


def digest(plain: str) -> str:
    """What is stored of a key: its SHA-256 (keys are long and random, so no salt or stretching)."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def find_key(plain: str | None) -> ApiKey | None:
    """The active key with this value, or None (unknown, revoked or empty)."""
    plain = (plain or "").strip()
    if not plain or len(plain) > 200:
        return None
    api_key = db.session.scalar(select(ApiKey).where(ApiKey.key_digest == digest(plain)))
    return api_key if api_key is not None and api_key.active else None


def key_nodes(person: Person) -> list[Node]:
    """The district, 街镇 and 社区 the person may bind a key to, in tree order."""
    query = select(Node).where(Node.level.in_(KEY_LEVELS), policy.node_scope_condition(person, KEY_ADMIN_ROLES))
    nodes = list(db.session.scalars(query))
    return sorted(nodes, key=lambda n: (KEY_LEVELS.index(n.level) > 0, n.street_id or 0, n.level != "street", n.id))


def keys_for(person: Person) -> list[tuple[ApiKey, Node]]:
    """The keys bound to nodes the person manages, active first, newest first."""
    query = (
        select(ApiKey, Node)
        .join(Node, Node.id == ApiKey.node_id)
        .where(policy.node_scope_condition(person, KEY_ADMIN_ROLES))
        .order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
    )
    return [(api_key, node) for api_key, node in db.session.execute(query).all()]


def issue_key(creator: Person | None, node: Node, name: str, plain: str | None = None) -> tuple[ApiKey, str]:
    """A new key bound to `node`; returns it with its value, which is shown once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ApiKeyError("bad_name")
    if creator is not None and not policy.allowed(creator, "manage_api_keys", node):
        policy.log_denial(creator, "manage_api_keys", node)
        raise ApiKeyError("forbidden")
    for _attempt in range(3):
        value = plain or secrets.token_urlsafe(32)
        api_key = ApiKey(
            name=name,
            prefix=value[:8],
            key_digest=digest(value),
            node_id=node.id,
            created_by_id=creator.id if creator is not None else None,
            created_at=utcnow(),
        )
        try:
            # A savepoint: two random keys sharing a prefix (unique) is rare; draw again instead of failing.
            with db.session.begin_nested():
                db.session.add(api_key)
                db.session.flush()
        except IntegrityError:
            if plain is not None:
                raise ApiKeyError("duplicate_key") from None
            continue
        log.info("api key %s issued for node %s by person %s", api_key.prefix, node.id, getattr(creator, "id", None))
        return api_key, value
    raise ApiKeyError("duplicate_key")


def revoke_key(actor: Person, api_key: ApiKey) -> bool:
    """Revoke a key (it stops working at once); False when it was already revoked."""
    if not policy.allowed(actor, "manage_api_keys", api_key.node):
        policy.log_denial(actor, "manage_api_keys", api_key.node)
        raise ApiKeyError("forbidden")
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = utcnow()
    db.session.flush()
    log.info("api key %s revoked by person %s", api_key.prefix, actor.id)
    return True


def ensure_demo_key() -> ApiKey | None:
    """The demo world's key DEMO_KEY ("演示客户端"), bound to the district; created once, None without a district."""
    existing = db.session.scalar(select(ApiKey).where(ApiKey.key_digest == digest(DEMO_KEY)))
    if existing is not None:
        return existing
    district = db.session.scalar(select(Node).where(Node.level == "district").order_by(Node.id).limit(1))
    if district is None:
        return None
    api_key, _value = issue_key(None, district, DEMO_KEY_NAME, plain=DEMO_KEY)
    return api_key


# --- rate limits ----------------------------------------------------------------------------------------

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_limit(text: str) -> tuple[int, int]:
    """'60/minute' → (60, 60): how many per how many seconds."""
    count, _, period = (text or "").partition("/")
    return int(count), PERIODS[period.strip().rstrip("s") or "minute"]


def _redis_hit(client, name: str, limit: int, window: int) -> int | None:
    """Count one hit in a fixed window; the seconds to wait when over the limit, else None."""
    counter = redis_key("open311", name)
    pipe = client.pipeline()
    pipe.incr(counter)
    pipe.expire(counter, window, nx=True)
    pipe.ttl(counter)
    count, _, ttl = pipe.execute()
    if count > limit:
        return max(int(ttl), 1)
    return None


def check_ip_rate(address: str | None) -> None:
    """Every API request counts against its address (Redis only: a database write per read would cost more)."""
    limit, window = parse_limit(current_app.config["OPEN311_IP_RATE_LIMIT"])
    client = answering_redis()
    if client is None or limit <= 0:
        return
    wait = _redis_hit(client, f"ip:{address or '-'}", limit, window)
    if wait is not None:
        raise Open311Error(429, "Too many requests from this address; try again later", retry_after=wait)


def check_key_rate(api_key: ApiKey) -> None:
    """A key's POSTs: counted in Redis when configured, else its filings in the window are counted."""
    limit, window = parse_limit(current_app.config["OPEN311_RATE_LIMIT"])
    client = answering_redis()
    if client is not None:
        wait = _redis_hit(client, f"key:{api_key.id}", limit, window)
    else:
        since = utcnow() - timedelta(seconds=window)
        filed = db.session.scalar(
            select(func.count(Issue.id)).where(Issue.api_key_id == api_key.id, Issue.created_at >= since)
        )
        oldest = None
        if filed >= limit:
            oldest = db.session.scalar(
                select(func.min(Issue.created_at)).where(Issue.api_key_id == api_key.id, Issue.created_at >= since)
            )
        wait = None if oldest is None else max(int((oldest + timedelta(seconds=window) - utcnow()).total_seconds()), 1)
    if wait is not None:
        raise Open311Error(429, "Too many requests for this api_key; try again later", retry_after=wait)


# --- POST requests ------------------------------------------------------------------------------------


LIFECYCLE_ERRORS = {
    "forbidden": (403, "api_key may not file requests at this address_id"),
    "bad_neighbour": (400, "address_id must be the id of a 邻 inside the api_key's area"),
    "bad_category": (400, "service_code was not found"),
    "bad_urgency": (400, "attribute[urgency] must be normal or urgent"),
    "bad_place": (400, "the place found does not belong to its 邻's community"),
}


# A coordinate as Open311 clients send it: ASCII digits, an optional sign and decimal point. float() alone
# would also take other scripts' digits (٣٠.٥), underscores, exponents and spaces.
ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})", re.ASCII)


def _float(value: str, name: str, bound: float) -> float:
    """A coordinate within ±bound, written in ASCII decimal digits; 400 for anything else."""
    if not ASCII_DECIMAL.fullmatch(value):
        raise Open311Error(400, f"{name} must be a decimal number in ASCII digits, e.g. 28.3475")
    number = float(value)
    if not -bound <= number <= bound:  # also refuses nan and inf
        raise Open311Error(400, f"{name} is out of range")
    return number


def _private_text(form) -> str:
    """The client's extra contact fields, kept with the private description for the leaders who follow up."""
    lines = [
        f"{name}: {form.get(name).strip()[:200]}"
        for name in ("email", "device_id", "account_id", "media_url")
        if (form.get(name) or "").strip()
    ]
    return ("\n\n[Open311] " + "; ".join(lines)) if lines else ""


def _locate(api_key: ApiKey, address_id: str, lat: float | None, lon: float | None, address: str) -> places.Place:
    """Where a request is filed, from the first location form it carries (GeoReport v2 allows three):
    address_id (a 邻's node id in the key's area); a key bound to one 邻 files there; lat+long (the key's
    nearest building or compound within places.NEAREST_WITHIN_M); address_string (a compound of the key's
    area named in it, and its building). 400 with the spec's error when what was sent matches nothing."""
    if address_id:
        # Open311 clients send ASCII: other scripts' digits (and the forms' full-width ones) are refused here.
        neighbour_id = parse_id(address_id) if address_id.isascii() else None
        if neighbour_id is None:
            raise Open311Error(400, "address_id must be the id of a 邻, in ASCII digits")
        neighbour = db.session.get(Node, neighbour_id)
        if neighbour is None or neighbour.level != "neighbour":
            raise Open311Error(400, "address_id must be the id of a 邻")
        if not policy.key_covers(api_key, neighbour):
            raise Open311Error(403, "address_id is outside the area of this api_key")
        return places.Place(neighbour, None, None)  # the 邻 alone, as before coordinates were known
    if api_key.node.level == "neighbour":  # a key of one 邻 files there, whatever else it says
        return places.Place(api_key.node, None, None)
    if lat is not None:
        found = places.nearest_place(api_key.node, lat, lon)
        if found is None:
            raise Open311Error(
                400, f"no compound of this api_key's area lies within {places.NEAREST_WITHIN_M} m of lat/long"
            )
        return found
    if address:
        found = places.place_named(api_key.node, address)
        if found is None:
            raise Open311Error(400, "address_string names no compound of this api_key's area")
        return found
    raise Open311Error(400, "a location is required: lat and long, address_string, or address_id (a 邻's id)")


def create_request(form, plain_key: str | None) -> dict:
    """POST requests: check the key, its rate and the fields, file the issue for the key, return the receipt.

    The place is a 邻: address_id is a 邻's node id inside the key's area (optional when the key is bound
    to a 邻). The personal fields go to the issue's private resident contact; nothing of them is public.
    """
    if not (plain_key or "").strip():
        raise Open311Error(403, "api_key was not provided")
    api_key = find_key(plain_key)
    if api_key is None:
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request")
    check_key_rate(api_key)
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    category = db.session.scalar(select(Category).where(Category.code == code[:32], Category.active.is_(True)))
    if category is None:
        raise Open311Error(400, f"service_code {code!r} was not found")
    latitude, longitude = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    if bool(latitude) != bool(longitude):
        raise Open311Error(400, "lat and long must be sent together")
    lat = _float(latitude, "lat", 90) if latitude else None
    lon = _float(longitude, "long", 180) if longitude else None
    address_string = (form.get("address_string") or "").strip()
    place = _locate(api_key, (form.get("address_id") or "").strip(), lat, lon, address_string)
    urgency = (form.get("attribute[urgency]") or "normal").strip() or "normal"
    if urgency not in dict(URGENCY_VALUES):
        raise Open311Error(400, "attribute[urgency] must be normal or urgent")
    description = (form.get("description") or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is limited to {MAX_DESCRIPTION} characters")
    title = " ".join(description.split())[:MAX_TITLE] or category.name_zh
    name = ((form.get("last_name") or "").strip() + (form.get("first_name") or "").strip())[:40]
    data = IssueInput(
        category_id=category.id,
        title=title,
        description=description + _private_text(form),
        neighbour_id=place.neighbour.id,
        compound_id=place.compound.id if place.compound is not None else None,
        building_id=place.building.id if place.building is not None else None,
        place_detail=address_string[:120],
        latitude=lat,
        longitude=lon,
        urgency=urgency,
        resident_name=name,
        resident_phone=(form.get("phone") or "").strip()[:20],
    )
    try:
        issue, _created = file_issue(None, data, api_key=api_key)
    except LifecycleError as err:
        status, text = LIFECYCLE_ERRORS.get(err.code, (400, "the request could not be filed"))
        raise Open311Error(status, text) from None
    issue.open311_token = secrets.token_urlsafe(18)
    api_key.last_used_at = utcnow()
    db.session.flush()
    return {
        "service_request_id": issue.reference,
        "token": issue.open311_token,
        "service_notice": None,
        "account_id": None,
    }


# --- discovery -------------------------------------------------------------------------------------------


def services_changeset() -> str:
    """A fingerprint of the service list and definitions: it changes whenever a category does.

    Categories carry no modification time, so this flags a change (what clients use it for) but does not sort.
    """
    rows = db.session.execute(
        select(Category.code, Category.name_zh, Category.name_en, Category.active).order_by(Category.id)
    )
    text = "|".join(f"{code},{zh},{en},{int(bool(active))}" for code, zh, en, active in rows)
    return "services-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def discovery(endpoint_url: str) -> dict:
    """The service discovery document: one production GeoReport v2 endpoint, XML and JSON."""
    config = current_app.config
    changeset = config["OPEN311_CHANGESET"] or services_changeset()
    return {
        "changeset": changeset,
        "contact": config["OPEN311_CONTACT"],
        "key_service": config["OPEN311_KEY_SERVICE"],
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": changeset,
                "type": config["OPEN311_ENDPOINT_TYPE"],
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
