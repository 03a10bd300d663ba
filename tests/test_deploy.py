"""The supervision the README ships: systemd units in deploy/ that restart every process, running the
same commands as the Procfile, and those commands exist."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

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
