"""Backup and restore: `flask outbox after-restore`, and a real pg_dump / pg_restore round trip with the photo files."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from governance.extensions import db
from governance.models import Issue, Job, Photo, utcnow
from governance.services.platform import jobs
from tests.builders import make_issue, make_person, make_tree, nodes_at
from tests.conftest import build_app, make_database


def add_job(status: str = "pending", age: timedelta = timedelta(0), **fields) -> Job:
    job = Job(kind="notify", payload="{}", status=status, created_at=utcnow() - age, **fields)
    db.session.add(job)
    db.session.flush()
    return job


def test_after_restore_marks_the_unfinished_jobs_of_the_backup_skipped(app, runner):
    old = {status: add_job(status, timedelta(hours=2)) for status in ("pending", "queued", "running")}
    done, failed = add_job("done", timedelta(hours=2)), add_job("failed", timedelta(hours=2), last_error="boom")
    newest = add_job("pending", timedelta(hours=1))
    db.session.commit()
    result = runner.invoke(args=["outbox", "after-restore"])
    assert result.exit_code == 0, result.output
    assert "newest job row's created_at" in result.output and "Marked 4 " in result.output
    db.session.expire_all()
    for job in (*old.values(), newest):
        assert job.status == "skipped" and "restore" in job.last_error and job.finished_at is not None
    assert done.status == "done" and failed.status == "failed" and failed.last_error == "boom"
    assert jobs.relay(grace=timedelta(0)) == 0  # the relay hands over nothing skipped
    assert all(job.attempts == 0 for job in old.values())  # and nothing ran


def test_after_restore_with_an_explicit_moment_leaves_later_jobs(app, runner):
    before = add_job("pending", timedelta(hours=3))
    after = add_job("pending", timedelta(minutes=5))
    db.session.commit()
    moment = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    result = runner.invoke(args=["outbox", "after-restore", "--before", moment])
    assert result.exit_code == 0, result.output
    assert "Marked 1 " in result.output
    db.session.expire_all()
    assert before.status == "skipped" and after.status == "pending"


def test_after_restore_on_an_empty_outbox(app, runner):
    result = runner.invoke(args=["outbox", "after-restore"])
    assert result.exit_code == 0 and "nothing to mark" in result.output


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_postgresql_backup_restored_with_its_files_serves_the_photo_and_sends_nothing_old(tmp_path):
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    assert not missing, (
        f"{' and '.join(missing)} not found: install postgresql-client (apt-get install postgresql-client)"
    )
    source_url, drop_source = make_database("postgresql", None)
    target_url, drop_target = make_database("postgresql", None)
    apps = []
    try:
        uploads, exports = tmp_path / "uploads", tmp_path / "exports"
        source = build_app(source_url, UPLOAD_DIR=str(uploads), EXPORT_DIR=str(exports))
        apps.append(source)
        with source.app_context():
            make_tree()
            leader = make_person("neighbour_leader", nodes_at("neighbour")[0])
            issue = make_issue(leader)
            uploads.mkdir(parents=True, exist_ok=True)
            data = jpeg()
            (uploads / "restored-photo.jpg").write_bytes(data)
            photo = Photo(
                issue_id=issue.id,
                stored_name="restored-photo.jpg",
                width=64,
                height=48,
                size_bytes=len(data),
                public=True,
            )
            db.session.add(photo)
            waiting = add_job("pending")
            db.session.commit()
            issue_id, reference, photo_id, waiting_id = issue.id, issue.reference, photo.id, waiting.id
            unfinished = select(Job.id).where(Job.status.in_(("pending", "queued", "running")))
            waiting_ids = set(db.session.scalars(unfinished))
            assert waiting_id in waiting_ids
            db.session.remove()

        backup = tmp_path / "governance.dump"
        subprocess.run(["pg_dump", "-Fc", "-f", str(backup), libpq(source_url)], check=True, capture_output=True)
        subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", libpq(target_url), str(backup)],
            check=True,
            capture_output=True,
        )

        restored_uploads = tmp_path / "restored" / "uploads"
        target = build_app(target_url, UPLOAD_DIR=str(restored_uploads), EXPORT_DIR=str(tmp_path / "restored" / "ex"))
        apps.append(target)
        client = target.test_client()
        # The database alone: the photo's row is back, its file is not.
        assert client.get(f"/p/photo/{photo_id}").status_code == 404
        shutil.copytree(uploads, restored_uploads, dirs_exist_ok=True)
        served = client.get(f"/p/photo/{photo_id}")
        assert served.status_code == 200 and served.data == data

        result = target.test_cli_runner().invoke(args=["outbox", "after-restore"])
        assert result.exit_code == 0, result.output
        assert f"Marked {len(waiting_ids)} " in result.output
        with target.app_context():
            restored = db.session.get(Issue, issue_id)
            assert restored is not None and restored.reference == reference
            for job in db.session.scalars(select(Job).where(Job.id.in_(waiting_ids))):
                assert job.status == "skipped" and "restore" in job.last_error
            assert db.session.get(Job, waiting_id).attempts == 0
            assert jobs.relay(grace=timedelta(0)) == 0
            assert db.session.scalars(unfinished).all() == []
            db.session.remove()
    finally:
        for app in apps:
            with app.app_context():
                db.engine.dispose()
        drop_source()
        drop_target()
