"""Every kind of job the code defers has its handler, in the web app and in the worker process alike.

The handlers exist because create_app imports the modules of jobs.JOB_MODULES; a kind deferred without a
handler would wait unrun until its tries were used up. No database needed: the apps are only built.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from governance.services.platform import jobs

ROOT = Path(__file__).resolve().parents[1]


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module-level NAME = "text" assignments of a module (a kind may be named by a constant)."""
    found = {}
    for node in tree.body:
        value = getattr(node, "value", None)
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(value.value, str):
                    found[target.id] = value.value
    return found


def deferred_kinds() -> dict[str, set[str]]:
    """Every kind passed to defer(…) / jobs.defer(…) in governance/, with where it is deferred."""
    kinds: dict[str, set[str]] = {}
    for path in sorted((ROOT / "governance").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name != "defer":
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                kind = first.value
            elif isinstance(first, ast.Name) and first.id in constants:
                kind = constants[first.id]
            else:
                raise AssertionError(f"{where}: a job kind this test cannot read; name it by a constant")
            kinds.setdefault(kind, set()).add(where)
    return kinds


def test_the_scan_finds_the_deferred_kinds():
    # A scan that matched nothing would let the tests below pass vacuously.
    assert {"notify", "webhook", "thumbnail", "export"} <= set(deferred_kinds())


def _handlers_in_a_fresh_process(code: str, tmp_path) -> dict[str, str]:
    """{kind: the module of its handler} as a new interpreter sees them after running `code`."""
    env = {
        **os.environ,
        "GOVERNANCE_ENV": "testing",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "SECRET_KEY": "test-secret-" + "x" * 40,
    }
    env.pop("REDIS_URL", None)
    script = code + (
        "\nimport json\nfrom governance.services.platform import jobs\n"
        "print(json.dumps({kind: f.__module__ for kind, f in jobs.HANDLERS.items()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def web_handlers(tmp_path_factory):
    return _handlers_in_a_fresh_process(
        "from governance import create_app\ncreate_app('testing')", tmp_path_factory.mktemp("web")
    )


@pytest.fixture(scope="module")
def worker_handlers(tmp_path_factory):
    return _handlers_in_a_fresh_process(
        "from governance import worker\nworker.get_app()", tmp_path_factory.mktemp("worker")
    )


def test_every_deferred_kind_has_a_handler_after_create_app(web_handlers):
    missing = {kind: sorted(where) for kind, where in deferred_kinds().items() if kind not in web_handlers}
    assert not missing, f"deferred without a handler (add its module to jobs.JOB_MODULES): {missing}"


def test_the_worker_process_has_the_same_handlers(web_handlers, worker_handlers):
    assert worker_handlers == web_handlers


def test_job_modules_are_exactly_the_modules_that_define_handlers(web_handlers):
    # A handler outside JOB_MODULES would exist only because something else happened to import its module.
    assert set(web_handlers.values()) == set(jobs.JOB_MODULES)


def test_load_handlers_imports_every_job_module():
    handlers = jobs.load_handlers()
    assert set(jobs.JOB_MODULES) <= {f.__module__ for f in handlers.values()}
    assert all(name in sys.modules for name in jobs.JOB_MODULES)
