"""How a session cookie maps to a person, checked afresh on every request."""

from __future__ import annotations

from sqlalchemy.orm import selectinload

from .extensions import db
from .models import Person, RoleAssignment


def load_person(session_id: str) -> Person | None:
    """Flask-Login user loader: the id must exist, be enabled and carry the current auth version."""
    try:
        person_id, version = (int(part) for part in session_id.split("."))
    except (ValueError, AttributeError):
        return None
    person = db.session.get(
        Person,
        person_id,
        options=[selectinload(Person.roles).selectinload(RoleAssignment.node)],
    )
    if person is None or person.auth_version != version or not person.is_active:
        return None
    return person


def configure(login_manager) -> None:
    """Wire the loader and the login page into Flask-Login."""
    login_manager.user_loader(load_person)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
