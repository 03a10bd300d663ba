"""The one shape of a refusal that services raise and views show.

A refusal names what went wrong with a `code` and the values its message needs in `params`; nothing was
changed. Each subclass says what its codes mean to a person, so no view keeps a table of its own:

- MESSAGES: code → message (lazy-translated; `%(name)s` placeholders are filled from `params`, a missing
  one with ""), FALLBACK for a code without one;
- STATUS: code → the HTTP status of the page that shows the refusal, DEFAULT_STATUS otherwise.

A view shows `err.message` with `err.status` (governance/web.py does it for the usual form post).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from flask_babel import lazy_gettext as _l


class _Params(dict):
    """The error's params for a message: a placeholder the service did not fill reads as empty."""

    def __missing__(self, key):
        return ""


class ServiceError(Exception):
    """A refused request: `code` selects the user-facing message, `params` fill it; nothing was changed."""

    MESSAGES: ClassVar[Mapping[str, str]] = {}
    FALLBACK: ClassVar[str] = _l("That could not be done.")
    # Someone else changed the thing first (409), or the person may not do it (403); anything else is a
    # request that cannot be carried out as sent (422).
    STATUS: ClassVar[Mapping[str, int]] = {"conflict": 409, "forbidden": 403}
    DEFAULT_STATUS: ClassVar[int] = 422

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def message(self) -> str:
        """The message for this refusal in the interface language, filled with its params."""
        text = str(self.MESSAGES.get(self.code, self.FALLBACK))
        return text % _Params(self.params) if self.params else text

    @property
    def status(self) -> int:
        """The HTTP status of a page that shows this refusal."""
        return self.STATUS.get(self.code, self.DEFAULT_STATUS)
