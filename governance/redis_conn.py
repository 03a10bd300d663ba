"""The shared Redis connection, created lazily so nothing connects at import time."""

from __future__ import annotations

from flask import current_app


def get_redis():
    """The app's Redis client, or None when REDIS_URL is not configured."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("redis_client")
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        current_app.extensions["redis_client"] = client
    return client


def key(*parts: str) -> str:
    """A key inside this deployment's namespace."""
    return current_app.config["REDIS_PREFIX"] + ":".join(parts)
