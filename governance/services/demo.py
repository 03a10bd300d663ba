"""The demo world (演示数据): placeholder until the loader lands."""

DEMO_LOGINS: list[dict] = []


def demo_loaded() -> bool:
    """Whether this database already holds the demo world."""
    return False


def load_demo_world(scale: float = 1.0) -> dict:
    """Build the demo world."""
    raise NotImplementedError
