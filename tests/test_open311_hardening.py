"""Open311 input and secrets: ASCII numbers only, the api_key in the POST body only (a key in the URL is refused),
and no api_key or server version in what the web servers log and answer."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.logredact import QuietRequestHandler, redact
from governance.models import Issue
from tests import test_open311 as base
from tests.test_open311 import API, assert_error, make_key, post

world = base.world  # the same fixture: one community with its 邻

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.compile(r"\d+\.\d+")


@pytest.mark.parametrize(
    "fields",
    [
        {"address_id": "١٢"},  # Arabic-Indic digits
        {"address_id": "１２"},  # full-width digits
        {"lat": "٢٨.٣", "long": "112.9"},
        {"lat": "28.3", "long": "１１２.９"},
        {"lat": "2_8.3", "long": "112.9"},
        {"lat": "2.83e1", "long": "112.9"},
    ],
)
def test_numbers_in_other_scripts_are_refused_with_400(world, client, fields):
    _key, value = make_key(world["community"])
    data = {"api_key": value, "service_code": "road", "address_id": str(world["neighbour_node"].id), **fields}
    if "address_id" in fields:  # the same number as the 邻's id, written in another script's digits
        zero = "٠" if "١" in fields["address_id"] else "０"
        data["address_id"] = "".join(chr(ord(zero) + int(d)) for d in str(world["neighbour_node"].id))
    description = assert_error(post(client, **data), 400)
    assert "ASCII" in description
    assert db.session.scalar(select(Issue.id)) is None


def test_ascii_coordinates_still_file(world, client):
    _key, value = make_key(world["community"])
    data = {"api_key": value, "service_code": "road", "address_id": str(world["neighbour_node"].id)}
    assert post(client, **data, lat="28.3475", long="-112.9").status_code == 200
    issue = db.session.scalar(select(Issue))
    assert (issue.latitude, issue.longitude) == (28.3475, -112.9)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_api_key_in_the_url_is_refused(world, client, method):
    """A key in the query string is refused (it has been logged by then: the message says so), even when the
    body carries one too; nothing is filed."""
    _key, value = make_key(world["community"])
    body = {"api_key": value, "service_code": "road", "address_id": str(world["neighbour_node"].id)}
    response = client.open(
        f"{API}/requests.json?api_key={value}", method=method, data=body if method == "POST" else None
    )
    description = assert_error(response, 400)
    assert "body" in description and "URL" in description
    assert db.session.scalar(select(Issue.id)) is None
    assert post(client, **body).status_code == 200  # the same key in the body files


def test_redact_replaces_every_spelling_of_the_key():
    assert redact("POST /open311/v2/requests.json?api_key=s3cr3t&x=1 HTTP/1.1") == (
        "POST /open311/v2/requests.json?api_key=[REDACTED]&x=1 HTTP/1.1"
    )
    assert "s3cr3t" not in redact("/r?API_KEY=s3cr3t") and "s3cr3t" not in redact("/r?a=1&api%5Fkey=s3cr3t")
    assert redact("/p/compound/1?page=2") == "/p/compound/1?page=2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ask(url: str, data: bytes | None = None):
    """(status, headers) of a request, whatever the status."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


def test_development_server_shows_no_versions_and_logs_no_key(app, caplog):
    """`python run.py`'s server (QuietRequestHandler): `Server: governance`, the api_key redacted in its log."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level("INFO", logger="werkzeug"):
            status, headers = ask(f"http://127.0.0.1:{server.port}{API}/requests.json?api_key=top-secret-key", b"x=1")
    finally:
        server.shutdown()
    assert status == 400
    assert headers["Server"] == "governance" and not VERSION.search(headers["Server"])
    assert "api_key=[REDACTED]" in caplog.text and "top-secret-key" not in caplog.text


def test_gunicorn_with_our_config_shows_no_version_and_logs_no_key(tmp_path):
    """The Procfile's gunicorn, started here, reads gunicorn.conf.py: its access log has no api_key, and its
    Server header no version."""
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "GOVERNANCE_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    env.pop("REDIS_URL", None)
    argv = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "--access-logfile", str(log)]
    child = subprocess.Popen(
        [*argv, "governance:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, headers = ask(f"http://127.0.0.1:{port}{API}/requests.json?api_key=top-secret-key", b"x=1")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
    finally:
        child.terminate()
        child.wait(timeout=20)
    assert status == 400
    assert not VERSION.search(headers.get("Server", "")), headers.get("Server")
    written = log.read_text()
    assert "api_key=[REDACTED]" in written and "top-secret-key" not in written
