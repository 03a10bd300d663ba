"""The supervision the README ships: systemd units in deploy/ that restart every process, running the
same commands as the Procfile, and those commands exist."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_TEST_URL

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("governance-web.service", "governance-worker@.service", "governance-periodic.service")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "deploy" / name)
    return parser


def test_every_process_has_a_unit_that_restarts_it_always():
    for name in UNITS:
        service = unit(name)["Service"]
        assert service["Restart"] == "always", name
        assert service["EnvironmentFile"] == "/etc/governance/governance.env", name


def test_the_units_run_what_the_procfile_runs():
    procfile = (ROOT / "Procfile").read_text()
    for name, command in (
        ("governance-worker@.service", "-m governance.worker work --with-scheduler"),
        ("governance-periodic.service", "-m governance.worker periodic"),
        ("governance-web.service", "governance:create_app()"),
    ):
        assert command in unit(name)["Service"]["ExecStart"], name
        assert command in procfile.replace("'", ""), name


def test_the_worker_commands_exist():
    for args in (["work", "--help"], ["periodic", "--help"]):
        result = subprocess.run([sys.executable, "-m", "governance.worker", *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("with_scheduler", [False, True], ids=["worker", "worker-with-scheduler"])
def test_an_idle_worker_stops_at_once_when_systemd_stops_it(tmp_path, with_scheduler):
    """systemd stops a unit with SIGTERM to every process of it (the worker and RQ's scheduler process) and
    waits up to TimeoutStopSec before SIGKILL. An idle worker must exit promptly and cleanly, not start a
    fresh worker as it does after losing Redis."""
    prefix = f"govtest:{uuid.uuid4().hex}:"
    env = {
        **os.environ,
        "GOVERNANCE_ENV": "testing",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "REDIS_URL": REDIS_TEST_URL,
        "REDIS_PREFIX": prefix,
    }
    argv = [sys.executable, "-m", "governance.worker", "work", *(["--with-scheduler"] if with_scheduler else [])]
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "Listening on" not in log_path.read_text() or (
            with_scheduler and "Scheduler for" not in log_path.read_text()
        ):
            assert child.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        stopped_at = time.monotonic()
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 10 s after SIGTERM:\n{log_path.read_text()}") from None
        assert child.returncode == 0, log_path.read_text()
        assert time.monotonic() - stopped_at < 5, log_path.read_text()
        assert "a fresh one starts" not in log_path.read_text()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        client = redis.Redis.from_url(REDIS_TEST_URL)
        for key in client.scan_iter(match=f"*{prefix.split(':')[1]}*"):
            client.delete(key)
