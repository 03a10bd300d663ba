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


def test_embedded_periodic_work_sweeps_relays_and_survives_errors(app, monkeypatch, caplog):
    """Without Redis, run.py's thread escalates overdue issues and runs waiting jobs, whatever fails once."""
    import time
    from datetime import timedelta

    from sqlalchemy import select, update

    from governance.models import Issue, Job, Notification, utcnow
    from governance.services.issues import sla
    from tests.builders import make_issue, make_person, make_tree, nodes_at

    make_tree()
    make_person("group_leader", nodes_at("group")[0])
    issue = make_issue(make_person("neighbour_leader", nodes_at("neighbour")[0]))
    # The filing's notification job is still waiting (nobody dispatched it), and the issue is overdue.
    past = utcnow() - timedelta(minutes=5)
    db.session.execute(update(Job).values(created_at=past))
    db.session.execute(update(Issue).values(ack_due_at=past, next_deadline_at=past))
    db.session.commit()
    rounds = []
    real_sweep = sla.sweep

    def sweep_failing_once(*args, **kwargs):
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("database hiccup")
        return real_sweep(*args, **kwargs)

    monkeypatch.setattr(sla, "sweep", sweep_failing_once)
    thread, stop = run.start_periodic(app, interval=0.1)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.session.commit()  # a fresh read each time round
            job = db.session.scalar(select(Job))
            if db.session.get(Issue, issue.id).level == "group" and job.status == "done":
                break
            time.sleep(0.05)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).level == "group"
    assert db.session.scalar(select(Job)).status == "done"
    assert db.session.scalar(select(db.func.count()).select_from(Notification)) >= 1
    assert len(rounds) >= 2
    assert "periodic work failed" in caplog.text and "database hiccup" in caplog.text
