"""Command-line tools: `flask roster import FILE`, `flask demo load`, `flask ledger check`, `flask rollups check`,
`flask outbox after-restore`, `flask households import`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask.cli import AppGroup

from .extensions import db

roster_cli = AppGroup("roster", help="Roster (名册) tools.")
demo_cli = AppGroup("demo", help="The demo world.")
ledger_cli = AppGroup("ledger", help="The money ledger (资金台账).")
rollups_cli = AppGroup("rollups", help="The report rollups (报表汇总).")
outbox_cli = AppGroup("outbox", help="The job outbox (后台任务).")
households_cli = AppGroup("households", help="Households (住户) for door-to-door surveys.")


@roster_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and print what it would change; write nothing.")
@click.option("--yes", "assume_yes", is_flag=True, help="Apply without asking (scripts).")
@click.option(
    "--allow-new-nodes",
    is_flag=True,
    help="Create a 片/组/邻 even when its name is close to an existing one (normally a row error).",
)
def roster_import(path: Path, dry_run: bool, assume_yes: bool, allow_new_nodes: bool):
    """Import a roster (CSV or XLSX): print what it changes, then apply it only when confirmed.

    Any bad row means nothing is imported. Leader roles (片长/组长/邻长) the file gives to someone else end,
    and their holders' open work is handed on.
    """
    from .services.people.roster import import_roster

    data = path.read_bytes()
    preview = import_roster(path.name, data, actor=None, apply=False, allow_new_nodes=allow_new_nodes)
    db.session.rollback()
    if preview.errors:
        _roster_errors(preview)
    for line in preview.changes.lines(limit=None if dry_run else 30):
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    if preview.changes.empty:
        click.echo("The file changes nothing.")
        click.echo(preview.summary())
        return
    if not assume_yes and not click.confirm("Apply these changes?", default=False):
        click.echo("Nothing was imported.")
        sys.exit(1)
    result = import_roster(path.name, data, actor=None, apply=True, allow_new_nodes=allow_new_nodes)
    if result.errors:
        db.session.rollback()
        _roster_errors(result)
    if result.changes.fingerprint() != preview.changes.fingerprint():
        db.session.rollback()
        click.echo("The database changed while you were deciding; nothing was imported. Run it again.", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(result.summary())


def _roster_errors(result) -> None:
    for error in result.errors:
        click.echo(error.describe(), err=True)
    if result.bad_lines:
        click.echo(f"{result.bad_lines} bad row(s): nothing was imported.", err=True)
    else:
        click.echo("Nothing was imported.", err=True)
    sys.exit(1)


@demo_cli.command("load")
@click.option("--scale", default=1.0, show_default=True, help="Fraction of the full-size district to build.")
def demo_load(scale: float):
    """Build the demo world into an empty, migrated database."""
    from .demo import load_demo_world

    started = time.perf_counter()
    stats = load_demo_world(scale=scale)
    db.session.commit()
    click.echo(f"Demo world loaded in {time.perf_counter() - started:.1f} s: {stats}")


@ledger_cli.command("check")
def ledger_check():
    """Verify every project's balances against its entries; exit 1 on any mismatch."""
    from .models import Project
    from .services.money.ledger import check_ledger

    problems = check_ledger()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"{len(problems)} mismatch(es).", err=True)
        sys.exit(1)
    click.echo(f"The ledger reconciles: {db.session.query(Project).count()} project(s), no mismatch.")


@rollups_cli.command("check")
def rollups_check():
    """Compare the report rollups with the raw issues, report differences and rebuild; exit 1 on any."""
    from .services.reports import rollups

    result = rollups.check()
    db.session.commit()
    for line in result["differences"]:
        click.echo(line, err=True)
    if result["differences"]:
        click.echo(f"The rollups differed from the raw issues; rebuilt ({result['rows']} rows).", err=True)
        sys.exit(1)
    click.echo(f"The rollups match the raw issues: {result['rows']} rows.")


@rollups_cli.command("rebuild")
def rollups_rebuild():
    """Recompute the report rollups from the raw issues (after a bulk load)."""
    from .services.reports import rollups

    rows = rollups.rebuild()
    db.session.commit()
    click.echo(f"Rebuilt the report rollups: {rows} rows.")


@outbox_cli.command("after-restore")
@click.option(
    "--before",
    type=click.DateTime(
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]
    ),
    default=None,
    help="The backup's moment (UTC unless an offset is given). Default: the newest job row's created_at.",
)
def outbox_after_restore(before):
    """After restoring a backup: mark the jobs still waiting from before it `skipped`, so nothing is sent twice."""
    from .services.platform.restore import skip_before_restore

    if before is None:
        click.echo("No --before given: using the newest job row's created_at in this database.")
    marked, moment = skip_before_restore(before)
    db.session.commit()
    if moment is None:
        click.echo("No job rows: nothing to mark.")
        return
    click.echo(f"Marked {marked} unfinished job(s) created at or before {moment.isoformat()} as skipped.")


@households_cli.command("import")
@click.argument("community")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def households_import(community: str, path: Path):
    """Load a community's households (CSV or XLSX: 小区, 楼栋, 单元, 房号, 邻); COMMUNITY is its id or its name.

    The file is checked whole: any bad row is printed with its line and nothing is loaded.
    """
    from sqlalchemy import select

    from .models import Node
    from .services.outreach.households import import_households
    from .services.platform import audit

    by_id = Node.id == int(community) if community.isdigit() and len(community) < 10 else Node.id.is_(None)
    found = db.session.scalars(select(Node).where(Node.level == "community", (Node.name == community) | by_id)).all()
    if len(found) != 1:
        click.echo(f"No single community named or numbered {community!r}.", err=True)
        sys.exit(2)
    node = found[0]
    result = import_households(node, path.name, path.read_bytes())
    if result.errors:
        db.session.rollback()
        for line, message in result.errors:
            click.echo(f"line {line}: {message}" if line else message, err=True)
        click.echo("Nothing was loaded.", err=True)
        sys.exit(1)
    audit.record_change(
        None,
        "households_imported",
        f"{node.name}：新增{result.added}户，调整{result.moved}户，未变{result.unchanged}户（命令行）",
        community_id=node.id,
        street_id=node.street_id,
    )
    db.session.commit()
    click.echo(f"{node.name}: {result.added} added, {result.moved} moved, {result.unchanged} already known.")
