"""The money ledger: exact amounts, append-only rows (refused by the database itself), balances that
always reconcile, overspend overrides, idempotent recording and who may run the money."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from governance.extensions import db
from governance.models import LedgerEntry, ledger_entry_issue
from governance.services.money import ledger
from governance.services.money.ledger import LedgerError, format_fen, parse_amount
from tests.builders import make_issue, make_person, make_project, make_source, make_tree, nodes_at


@pytest.fixture
def world(app):
    """Two communities; the first has a project with two phases and three sources."""
    make_tree(streets=1, communities=2, zones=1, groups=1, neighbours=1)
    community, other = nodes_at("community")
    project = make_project(community)
    return {
        "project": project,
        "phases": project.phases,
        "residents": make_source(project, "resident_donation", "第一次捐款倡议"),
        "property": make_source(project, "property", "普瑞物业"),
        "developer": make_source(project, "developer", "开发商"),
        "branch": make_person("branch_member", community, name="支部"),
        "other_branch": make_person("branch_member", other, name="别的支部"),
        "street": make_person("street_admin", nodes_at("street")[0], name="街镇"),
        "district": make_person("district_admin", nodes_at("district")[0], name="区"),
        "zone": make_person("zone_leader", nodes_at("zone")[0], name="片长"),
        "neighbour": make_person("neighbour_leader", nodes_at("neighbour")[0], name="邻长"),
    }


def entries() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


# --- amounts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("1,600,000.00", 160_000_000),
        ("1600000", 160_000_000),
        ("0.1", 10),
        ("0.01", 1),
        ("12.3", 1230),
        ("  470,000 ", 47_000_000),
        ("¥5", 500),
        ("3980000.99", 398_000_099),
    ],
)
def test_parse_amount_exact(typed, fen):
    assert parse_amount(typed) == fen
    assert isinstance(parse_amount(typed), int)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("1e3", "amount_scientific"),
        ("1.5E2", "amount_scientific"),
        ("-5", "amount_negative"),
        ("12.345", "amount_decimals"),
        ("0.105", "amount_decimals"),
        ("", "amount_empty"),
        ("   ", "amount_empty"),
        (None, "amount_empty"),
        ("abc", "amount_format"),
        ("1,00", "amount_format"),
        ("1,0000.00", "amount_format"),
        (".5", "amount_format"),
        ("5.", "amount_format"),
        ("NaN", "amount_format"),
        ("inf", "amount_format"),
        ("0", "amount_zero"),
        ("0.00", "amount_zero"),
        ("10000000000000", "amount_too_large"),
    ],
)
def test_parse_amount_refuses_with_a_clear_code(typed, code):
    with pytest.raises(LedgerError) as caught:
        parse_amount(typed)
    assert caught.value.code == code
    assert caught.value.message  # a sentence for the form


@given(st.integers(min_value=1, max_value=ledger.MAX_FEN))
def test_format_and_parse_round_trip(fen):
    assert parse_amount(format_fen(fen)) == fen


def test_format_fen():
    assert format_fen(160_000_000) == "1,600,000.00"
    assert format_fen(10) == "0.10"
    assert format_fen(0) == "0.00"
    assert format_fen(-123_456) == "-1,234.56"


def test_amounts_must_be_integer_fen(world):
    with pytest.raises(TypeError):
        ledger.record_receipt(world["branch"], world["project"], world["property"], 10.5)


# --- append-only ----------------------------------------------------------------------------------


def _one_entry(world) -> LedgerEntry:
    entry = ledger.record_receipt(world["branch"], world["project"], world["property"], 100_00)
    db.session.commit()
    return entry


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET amount_fen = 1",
        "UPDATE ledger_entry SET reason = 'edited'",
        "DELETE FROM ledger_entry",
    ],
)
def test_the_database_refuses_update_and_delete(world, statement):
    """On PostgreSQL and on SQLite alike, the database itself (a trigger) refuses the statement."""
    entry = _one_entry(world)
    with pytest.raises(DBAPIError) as caught:
        db.session.execute(text(statement))
    assert "append-only" in str(caught.value)
    db.session.rollback()
    assert db.session.scalar(select(LedgerEntry.amount_fen).where(LedgerEntry.id == entry.id)) == 100_00


def test_postgresql_refuses_truncate_of_the_ledger_even_by_cascade(world):
    """TRUNCATE fires no row trigger: a statement trigger refuses it, directly or cascaded from a parent
    (SQLite has no TRUNCATE; its DELETE is refused above)."""
    entry = _one_entry(world)
    if db.engine.dialect.name != "postgresql":
        assert db.engine.dialect.name == "sqlite"
        return
    for statement in ("TRUNCATE ledger_entry CASCADE", "TRUNCATE ledger_entry_issue", "TRUNCATE project CASCADE"):
        with pytest.raises(DBAPIError) as caught:
            db.session.execute(text(statement))
        assert "append-only" in str(caught.value)
        db.session.rollback()
    assert db.session.scalar(select(LedgerEntry.amount_fen).where(LedgerEntry.id == entry.id)) == 100_00


def test_issue_links_are_append_only_too(world):
    issue = make_issue(world["neighbour"])
    ledger.record_receipt(world["branch"], world["project"], world["property"], 500_00)
    ledger.record_expenditure(world["branch"], world["project"], 100_00, payee="施工队", purpose="修路", issues=[issue])
    db.session.commit()
    for statement in ("DELETE FROM ledger_entry_issue", "UPDATE ledger_entry_issue SET issue_id = issue_id"):
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ledger_entry_issue)) == 1


def test_orm_edits_are_refused_too(world):
    entry = _one_entry(world)
    entry.amount_fen = 1
    with pytest.raises(DBAPIError):
        db.session.commit()
    db.session.rollback()


# --- reversals --------------------------------------------------------------------------------------


def test_reversal_subtracts_from_the_kind_it_reverses(world):
    project, actor = world["project"], world["branch"]
    pledge = ledger.record_pledge(actor, project, world["property"], 470_000_00, phase=world["phases"][0])
    receipt = ledger.record_receipt(actor, project, world["property"], 200_000_00, phase=world["phases"][0])
    ledger.record_receipt(actor, project, world["property"], 200_000_00, phase=world["phases"][0])
    reversal = ledger.reverse(actor, receipt, "重复录入")
    assert (reversal.kind, reversal.amount_fen, reversal.reverses_id) == ("reversal", receipt.amount_fen, receipt.id)
    assert (reversal.phase_id, reversal.source_id) == (receipt.phase_id, receipt.source_id)
    figures = ledger.balances(project)
    assert figures.total.as_tuple() == (470_000_00, 200_000_00, 0, 270_000_00, 200_000_00)
    assert figures.kinds["property"].outstanding == 270_000_00
    assert figures.phases[world["phases"][0].id].received == 200_000_00
    with pytest.raises(LedgerError, match="already_reversed"):
        ledger.reverse(actor, receipt, "again")
    with pytest.raises(LedgerError, match="reverse_reversal"):
        ledger.reverse(actor, reversal, "undo the undo")
    with pytest.raises(LedgerError, match="reason_required"):
        ledger.reverse(actor, pledge, "  ")
    assert ledger.check_ledger() == []


def test_the_database_keeps_one_reversal_per_entry(world):
    receipt = _one_entry(world)
    ledger.reverse(world["branch"], receipt, "错账")
    db.session.commit()
    twin = LedgerEntry(
        project_id=receipt.project_id, kind="reversal", amount_fen=receipt.amount_fen, reverses_id=receipt.id
    )
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_reversing_a_receipt_may_not_overdraw(world):
    actor, project = world["branch"], world["project"]
    receipt = ledger.record_receipt(actor, project, world["property"], 100_00)
    ledger.record_expenditure(actor, project, 80_00, payee="施工队", purpose="修路")
    with pytest.raises(LedgerError, match="overspend"):
        ledger.reverse(actor, receipt, "退款")
    reversal = ledger.reverse(world["street"], receipt, "退款", override_reason="街道垫付")
    assert reversal.override_reason == "街道垫付"
    assert ledger.balances(project).total.balance == -80_00
    assert ledger.check_ledger() == []


# --- overspend ----------------------------------------------------------------------------------


def test_overspend_refused_without_override_and_recorded_with_it(world):
    project = world["project"]
    ledger.record_receipt(world["branch"], project, world["developer"], 1_000_00)
    with pytest.raises(LedgerError) as caught:
        ledger.record_expenditure(world["branch"], project, 1_000_01, payee="施工队", purpose="道路")
    assert caught.value.code == "overspend" and caught.value.params == {"available": "1,000.00"}
    # The branch may not override; neither may anyone without a reason.
    with pytest.raises(LedgerError, match="overspend"):
        ledger.record_expenditure(
            world["branch"], project, 1_000_01, payee="施工队", purpose="道路", override_reason="急需"
        )
    with pytest.raises(LedgerError, match="overspend"):
        ledger.record_expenditure(world["district"], project, 1_000_01, payee="施工队", purpose="道路")
    assert entries() == 1
    entry = ledger.record_expenditure(
        world["district"], project, 1_500_00, payee="施工队", purpose="道路", override_reason="开发商款项下周到账"
    )
    db.session.commit()
    assert entry.override_reason == "开发商款项下周到账"
    assert ledger.balances(project).total.balance == -500_00
    assert ledger.check_ledger() == []
    # Exactly the balance is fine, and an override reason that was not needed is not kept.
    ledger.record_receipt(world["branch"], project, world["developer"], 600_00)
    exact = ledger.record_expenditure(world["street"], project, 100_00, payee="a", purpose="b", override_reason="x")
    assert exact.override_reason == "" and ledger.balances(project).total.balance == 0


def test_parallel_overspends_only_one_succeeds_on_both_engines(app, world):
    """Four expenditures of 60 % of the balance posted at the same moment, each in its own session: the
    balance check holds against the others (PostgreSQL: the project row is locked; SQLite: the write lock is
    taken before the balance is read), so exactly one is recorded and the balance never goes below zero."""
    import threading

    from governance.models import Person, Project

    ledger.record_receipt(world["branch"], world["project"], world["developer"], 1_000_00)
    db.session.commit()
    project_id, branch_id = world["project"].id, world["branch"].id
    start, outcomes = threading.Barrier(4), []

    def post():
        with app.app_context():
            project, branch = db.session.get(Project, project_id), db.session.get(Person, branch_id)
            start.wait()
            try:
                ledger.record_expenditure(branch, project, 600_00, payee="施工队", purpose="同时付款")
                db.session.commit()
                outcomes.append("recorded")
            except LedgerError as refused:
                db.session.rollback()
                outcomes.append(refused.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["overspend", "overspend", "overspend", "recorded"], outcomes
    db.session.expire_all()
    assert ledger.balances(db.session.get(type(world["project"]), project_id)).total.balance == 400_00
    assert ledger.check_ledger() == []


def test_expenditure_needs_payee_and_purpose_and_issues_of_the_community(world):
    project, actor = world["project"], world["branch"]
    ledger.record_receipt(actor, project, world["property"], 1_000_00)
    with pytest.raises(LedgerError, match="payee_required"):
        ledger.record_expenditure(actor, project, 1_00, payee=" ", purpose="x")
    with pytest.raises(LedgerError, match="purpose_required"):
        ledger.record_expenditure(actor, project, 1_00, payee="x", purpose="")
    elsewhere = make_person("neighbour_leader", nodes_at("neighbour")[1])
    with pytest.raises(LedgerError, match="issue_outside"):
        ledger.record_expenditure(actor, project, 1_00, payee="x", purpose="y", issues=[make_issue(elsewhere)])
    ours = make_issue(world["neighbour"])
    entry = ledger.record_expenditure(actor, project, 1_00, payee="x", purpose="y", issues=[ours, ours])
    db.session.commit()
    assert [i.id for i in entry.issues] == [ours.id]


def test_sources_and_phases_of_another_project_are_refused(world):
    other = make_project(world["project"].community, name="另一个项目", phases=("一期",))
    stranger = make_source(other, "government", "街道财政")
    with pytest.raises(LedgerError, match="wrong_project"):
        ledger.record_pledge(world["branch"], world["project"], stranger, 1_00)
    with pytest.raises(LedgerError, match="wrong_project"):
        ledger.record_pledge(world["branch"], world["project"], world["property"], 1_00, phase=other.phases[0])
    with pytest.raises(LedgerError, match="source_required"):
        ledger.record_receipt(world["branch"], world["project"], None, 1_00)


# --- idempotency --------------------------------------------------------------------------------


def test_same_key_records_one_entry(world):
    project, actor = world["project"], world["branch"]
    first = ledger.record_receipt(actor, project, world["property"], 100_00, idempotency_key="k1")
    again = ledger.record_receipt(actor, project, world["property"], 100_00, idempotency_key="k1")
    db.session.commit()
    assert first.id == again.id and entries() == 1
    spend = ledger.record_expenditure(actor, project, 10_00, payee="a", purpose="b", idempotency_key="k2")
    assert ledger.record_expenditure(actor, project, 10_00, payee="a", purpose="b", idempotency_key="k2") is spend
    reversal = ledger.reverse(actor, spend, "错", idempotency_key="k3")
    assert ledger.reverse(actor, spend, "错", idempotency_key="k3") is reversal
    # Another recorder's key is their own.
    ledger.record_receipt(world["street"], project, world["property"], 100_00, idempotency_key="k1")
    db.session.commit()
    assert entries() == 4


def test_a_key_reused_for_other_money_is_refused(world):
    project, actor = world["project"], world["branch"]
    a = ledger.record_receipt(actor, project, world["property"], 100_00)
    b = ledger.record_receipt(actor, project, world["property"], 200_00)
    reversal = ledger.reverse(actor, a, "错", idempotency_key="r")
    with pytest.raises(ledger.LedgerError) as refused:
        ledger.reverse(actor, b, "错", idempotency_key="r")
    assert refused.value.code == "key_reused" and refused.value.params == {"id": reversal.id}
    with pytest.raises(ledger.LedgerError) as refused:
        ledger.record_receipt(actor, project, world["property"], 300_00, idempotency_key="r")
    assert refused.value.code == "key_reused"
    ledger.record_receipt(actor, project, world["property"], 300_00, idempotency_key="s")
    with pytest.raises(ledger.LedgerError) as refused:
        ledger.record_pledge(actor, project, world["property"], 300_00, idempotency_key="s")
    assert refused.value.code == "key_reused"
    db.session.commit()
    assert entries() == 4


def test_same_key_race_loses_to_the_unique_key(world):
    """The key is unique per recorder in the database: a second row with it cannot exist."""
    first = ledger.record_receipt(world["branch"], world["project"], world["property"], 1_00, idempotency_key="k")
    db.session.commit()
    twin = ledger._add(
        world["branch"], "k", project_id=first.project_id, kind="receipt", amount_fen=1_00, source_id=first.source_id
    )
    assert twin.id == first.id and entries() == 1


# --- scope --------------------------------------------------------------------------------------


def test_who_runs_the_money(world):
    from governance import policy

    project = world["project"]
    for who in ("branch", "street", "district"):
        assert policy.allowed(world[who], "view_ledger", project)
        assert policy.allowed(world[who], "record_money", project)
    for who in ("other_branch", "zone", "neighbour"):
        assert not policy.allowed(world[who], "view_ledger", project)
        assert not policy.allowed(world[who], "record_money", project)
        with pytest.raises(LedgerError, match="forbidden"):
            ledger.record_pledge(world[who], project, world["property"], 1_00)
    assert policy.allowed(world["street"], "override_overspend", project)
    assert not policy.allowed(world["branch"], "override_overspend", project)
    assert not policy.allowed(None, "view_ledger", project)
    assert entries() == 0
    from governance.models import Project

    visible = db.session.scalars(select(Project).where(policy.project_scope_condition(world["other_branch"]))).all()
    assert visible == []
    visible = db.session.scalars(select(Project).where(policy.project_scope_condition(world["street"]))).all()
    assert visible == [project]


# --- donors ---------------------------------------------------------------------------------------


def test_resident_donors_show_only_by_initial_and_only_when_named(world):
    project, actor, drive = world["project"], world["branch"], world["residents"]
    named = ledger.record_receipt(actor, project, drive, 500_00, donor_name="张伟国", donor_named=True)
    anonymous = ledger.record_receipt(actor, project, drive, 500_00, donor_name="李娜")
    nameless = ledger.record_receipt(actor, project, drive, 500_00, donor_named=True)
    company = ledger.record_receipt(actor, project, world["property"], 500_00, donor_name="某人", donor_named=True)

    def public_label(entry):
        return ledger.donor_initial(entry.donor_name, entry.donor_named)

    assert public_label(named) == "张**"
    assert public_label(anonymous) is None
    assert public_label(nameless) is None and nameless.donor_named is False
    assert company.donor_name == ""  # donor names belong to resident donations only


# --- any sequence reconciles ----------------------------------------------------------------------

RUNS = itertools.count()
AMOUNTS = st.integers(min_value=1, max_value=5_000_000_00)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("pledge"), st.integers(0, 2), st.integers(-1, 1), AMOUNTS),
        st.tuples(st.just("receipt"), st.integers(0, 2), st.integers(-1, 1), AMOUNTS),
        st.tuples(st.just("expenditure"), st.integers(-1, 2), st.integers(-1, 1), AMOUNTS, st.booleans()),
        st.tuples(st.just("reverse"), st.integers(0, 10_000), st.booleans()),
    ),
    max_size=25,
)


def expected_figures(effects):
    """The figures by hand, from (kind, signed amount, phase, source, source kind) effects."""
    groups = {
        "total": defaultdict(int),
        "phase": defaultdict(int),
        "kind": defaultdict(int),
        "source": defaultdict(int),
    }
    per_source = defaultdict(lambda: [0, 0])
    per_phase_source = defaultdict(lambda: [0, 0])
    for kind, amount, phase, source, source_kind in effects:
        for name, key in (("total", None), ("phase", phase), ("kind", source_kind), ("source", source)):
            groups[name][(key, kind)] += amount
        if kind in ("pledge", "receipt"):
            per_source[source][kind == "receipt"] += amount
            per_phase_source[(phase, source)][kind == "receipt"] += amount
    return groups, per_source, per_phase_source


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_any_sequence_reconciles_to_the_fen(world, operations):
    """Whatever is recorded, in whatever order, each figure is exactly the sum of its entries, and
    the balance goes below zero only at an entry carrying an override."""
    project = make_project(world["project"].community, name=f"p{next(RUNS)}")
    sources = [make_source(project, kind) for kind in ("resident_donation", "property", "developer")]
    phases = project.phases
    actor = world["district"]
    recorded: list[LedgerEntry] = []
    effects = []
    balance = 0
    for op in operations:
        try:
            if op[0] in ("pledge", "receipt"):
                _kind, s, p, amount = op
                phase = phases[p] if p >= 0 else None
                record = ledger.record_pledge if op[0] == "pledge" else ledger.record_receipt
                entry = record(actor, project, sources[s], amount, phase=phase)
                effects.append((op[0], amount, entry.phase_id, sources[s].id, sources[s].kind))
                balance += amount if op[0] == "receipt" else 0
            elif op[0] == "expenditure":
                _kind, s, p, amount, override = op
                source = sources[s] if s >= 0 else None
                phase = phases[p] if p >= 0 else None
                reason = "override" if override else ""
                entry = ledger.record_expenditure(
                    actor, project, amount, payee="p", purpose="q", phase=phase, source=source, override_reason=reason
                )
                assert amount <= balance or override
                effects.append(("expenditure", amount, entry.phase_id, entry.source_id, source and source.kind))
                balance -= amount
            else:
                _kind, index, override = op
                if not recorded:
                    continue
                target = recorded[index % len(recorded)]
                entry = ledger.reverse(actor, target, "why", override_reason="override" if override else "")
                assert target.kind != "reversal"
                source_kind = target.source.kind if target.source else None
                effects.append((target.kind, -target.amount_fen, target.phase_id, target.source_id, source_kind))
                balance += {"receipt": -1, "expenditure": 1}.get(target.kind, 0) * target.amount_fen
        except LedgerError as refused:
            assert refused.code in ("overspend", "already_reversed", "reverse_reversal")
            continue
        recorded.append(entry)
    db.session.commit()

    groups, per_source, per_phase_source = expected_figures(effects)
    figures = ledger.balances(project)

    def check(found, name, key):
        for kind, attribute in (("pledge", "pledged"), ("receipt", "received"), ("expenditure", "spent")):
            assert getattr(found, attribute) == groups[name][(key, kind)], (name, key, kind)

    check(figures.total, "total", None)
    assert figures.total.balance == balance
    for phase_id, found in figures.phases.items():
        check(found, "phase", phase_id)
        want = sum(max(0, p - r) for (ph, _s), (p, r) in per_phase_source.items() if ph == phase_id)
        assert found.outstanding == want
    for kind, found in figures.kinds.items():
        check(found, "kind", kind)
    for source_id, found in figures.sources.items():
        check(found, "source", source_id)
        pledged, received = per_source.get(source_id, (0, 0))
        assert found.outstanding == max(0, pledged - received)
    assert figures.total.outstanding == sum(max(0, p - r) for p, r in per_source.values())
    assert ledger.check_ledger(project) == []


# --- reconciliation -------------------------------------------------------------------------------


def test_check_ledger_and_the_cli(world, runner):
    project, actor = world["project"], world["branch"]
    ledger.record_receipt(actor, project, world["property"], 1_000_00, phase=world["phases"][1])
    ledger.record_expenditure(actor, project, 400_00, payee="施工队", purpose="消防")
    db.session.commit()
    assert ledger.check_ledger() == []
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0 and "reconciles" in result.output


def test_check_ledger_reports_an_overdraft_without_override(world, runner):
    """Rows written around the service (as a bad import might) are caught by the check."""
    project = world["project"]
    db.session.add(LedgerEntry(project_id=project.id, kind="expenditure", amount_fen=5_00, payee="x", purpose="y"))
    db.session.commit()
    problems = ledger.check_ledger()
    assert len(problems) == 1 and "without an override" in problems[0]
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1 and "without an override" in result.output


def test_check_ledger_reports_a_mismatched_reversal(world):
    project = world["project"]
    receipt = _one_entry(world)
    db.session.add(
        LedgerEntry(project_id=project.id, kind="reversal", amount_fen=receipt.amount_fen - 1, reverses_id=receipt.id)
    )
    db.session.commit()
    assert any("does not match" in problem for problem in ledger.check_ledger())


def test_a_project_total_is_bounded_so_no_sum_can_overflow(world):
    """SQLite's SUM raises "integer overflow" past 2^63 fen (~92,000 entries of the largest amount): a project's
    pledges, receipts and expenditures stop at MAX_PROJECT_FEN with a message, reversals stay possible, and
    every sum of the fullest project a ledger can hold is exact on both engines."""
    project, source, branch = world["project"], world["property"], world["branch"]
    count = ledger.MAX_PROJECT_FEN // ledger.MAX_FEN
    recorded = [ledger.record_receipt(branch, project, source, ledger.MAX_FEN) for _ in range(count)]
    db.session.commit()
    for record in (
        lambda: ledger.record_receipt(branch, project, source, 1),
        lambda: ledger.record_pledge(branch, project, source, 1),
        lambda: ledger.record_expenditure(
            world["district"], project, 1, payee="施工队", purpose="路面", override_reason="测试"
        ),
    ):
        with pytest.raises(LedgerError) as err:
            record()
        assert err.value.code == "project_full"
        assert format_fen(ledger.MAX_PROJECT_FEN) in err.value.message
    db.session.rollback()
    assert entries() == count
    # Reversals are never refused for the bound: a mistake can always be corrected.
    for entry in recorded:
        ledger.reverse(world["district"], entry, "测试冲正", override_reason="测试")
    db.session.commit()
    figures = ledger.balances(project)
    assert figures.total.received == 0 and figures.total.balance == 0
    assert ledger.check_ledger(project) == []
    gross = db.session.scalar(select(func.sum(LedgerEntry.amount_fen)).where(LedgerEntry.project_id == project.id))
    assert int(gross) == 2 * ledger.MAX_PROJECT_FEN < 2**63
