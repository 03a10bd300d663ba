"""Configuration: safe defaults, production refuses a weak secret and a missing public address."""

import pytest

from config import DEV_SECRET_KEY, normalise_database_url
from governance import create_app

SITE = "https://wangcheng.example.cn"


def test_production_refuses_development_secret():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production", {"SECRET_KEY": DEV_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_short_secret():
    with pytest.raises(RuntimeError):
        create_app("production", {"SECRET_KEY": "short", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_starts_with_real_secret_and_secure_cookies():
    app = create_app(
        "production", {"SECRET_KEY": "k" * 64, "SQLALCHEMY_DATABASE_URI": "sqlite://", "PUBLIC_BASE_URL": SITE}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_refuses_to_start_without_public_base_url():
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app("production", {"SECRET_KEY": "k" * 64, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


@pytest.mark.parametrize("value", ["wangcheng.example.cn", "ftp://wangcheng.example.cn", "https://", "https:///p"])
def test_production_refuses_a_public_base_url_that_is_not_an_address(value):
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app(
            "production", {"SECRET_KEY": "k" * 64, "SQLALCHEMY_DATABASE_URI": "sqlite://", "PUBLIC_BASE_URL": value}
        )


def test_production_starts_with_public_base_url():
    app = create_app(
        "production", {"SECRET_KEY": "k" * 64, "SQLALCHEMY_DATABASE_URI": "sqlite://", "PUBLIC_BASE_URL": SITE}
    )
    assert app.config["PUBLIC_BASE_URL"] == SITE


def test_database_url_spellings():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_default_database_is_sqlite_under_instance(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    import importlib

    import config

    importlib.reload(config)
    try:
        assert config.Config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
        assert "instance" in config.Config.SQLALCHEMY_DATABASE_URI
    finally:
        importlib.reload(config)
