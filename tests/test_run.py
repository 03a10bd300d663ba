"""`python run.py` prepares the embedded database: migrate, load the demo world once, list the logins."""

import run
from governance import create_app
from governance.extensions import db
from governance.models import Node


def test_first_start_loads_and_second_start_reuses(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url, "DEMO_SCALE": 0.02})
    run.prepare(app)
    first = capsys.readouterr().out
    assert "Demo world loaded in" in first and "13900000005" in first
    with app.app_context():
        zones = db.session.scalar(db.select(db.func.count()).where(Node.level == "zone"))
    run.prepare(app)
    second = capsys.readouterr().out
    assert "already loaded" in second and "Demo world loaded in" not in second
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).where(Node.level == "zone")) == zones
        db.engine.dispose()
