"""Vacancies (空缺) on a 360 px phone: the branch goes from its console to the vacancy list and on to the
filtered issue list; the tree page marks the vacant 邻. Each step fits the screen with big tap targets."""

from __future__ import annotations

import pytest

from tests.test_vacancies import community_world  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser]


def test_branch_finds_vacancies_and_the_work_waiting(phone, community_world):  # noqa: F811
    w = community_world
    phone.log_in(w["branch_a"].mobile)
    phone.goto(f"/triage/community/{w['a'].id}")
    phone.tap(phone.page.locator("[data-vacancies-link]"))
    assert phone.path == f"/triage/community/{w['a'].id}/vacancies"
    assert phone.page.locator("[data-vacancies] > li").count() == 3
    phone.check("vacancy-list")
    # The first vacancy's open work opens the issue list filtered to it.
    phone.tap(phone.page.locator("[data-vacancies] > li").first.locator(".vacancy-work a").nth(1))
    assert phone.page.locator(".issue-cards > li").count() == 2
    phone.goto(f"/tree/{w['groups'][0].id}")
    assert phone.page.locator("[data-vacant]").count() == 2
    phone.check("tree-vacancies")
