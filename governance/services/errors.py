"""The one shape of a refusal that services raise and views turn into a message."""


class ServiceError(Exception):
    """A refused request: `code` selects the user-facing message, `params` fill it; nothing was changed."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params
