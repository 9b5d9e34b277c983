"""The norms console pages in a real browser: draft, answer, publish, the regional view,
a report with its live evidence, a comparison; each page checked with axe."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.xdist_group("browser")]

HOSTILE = '<img src=x onerror="alert(1)">'


def test_a_report_is_drafted_published_and_read_in_the_console(visitor_for: Any) -> None:
    v = visitor_for("sg-analyst")
    v.visit("/norms", "norms-empty")
    v.page.click("button:text-is('Start a new draft')")
    v.page.wait_for_url("**/norms/drafts/*")
    v.check("norms-draft")
    form = v.page.locator("form[aria-label^='13 (a)']")
    form.locator("textarea[name=measures]").fill(f"National strategy {HOSTILE}")
    form.locator("textarea[name=documents]").fill("Cybersecurity Act 2018")
    form.locator("select[name=tlp]").select_option("TLP:CLEAR")
    form.locator("select[name=scope]").select_option("public")
    form.locator("button:text-is('Save the answer')").click()
    v.page.wait_for_load_state("networkidle")
    v.page.select_option("#target", "public")
    v.page.click("button:text-is('Publish this version')")
    v.page.wait_for_url("**/norms")
    v.check("norms-matrix")
    expect(v.page.locator("table").first).to_contain_text("Reported")

    reader = visitor_for("th-analyst")
    reader.visit("/norms/reports/SG", "norms-report")
    expect(reader.page.locator("article")).to_contain_text(f"National strategy {HOSTILE}")
    expect(reader.page.locator("article")).to_contain_text("Live evidence from this node")
    reader.visit("/norms/compare?states=SG,MY", "norms-compare")
    expect(reader.page.locator("table")).to_contain_text("TLP:CLEAR")


def test_capacity_assessment_and_a_need_in_the_console(visitor_for: Any) -> None:
    v = visitor_for("sg-analyst")
    v.visit("/norms/capacity", "capacity-empty")
    form = v.page.locator("form[aria-label='New CMM self-assessment']")
    form.locator("#score-D1").fill("2")
    form.locator("#score-D3").fill("1")
    form.locator("button:text-is('Record the assessment')").click()
    v.page.wait_for_url("**/norms/capacity")
    posting = v.page.locator("form[aria-label='Post a need or an offer']")
    posting.locator("#ptitle").fill("CSIRT <training>")
    posting.locator("#tags").fill("D3 h")
    posting.locator("button:text-is('Post')").click()
    v.page.wait_for_url("**/norms/capacity")
    v.check("capacity")
    expect(v.page.locator("figure").first).to_contain_text("start-up")
    expect(v.page.locator("section").nth(1)).to_contain_text("CSIRT <training>")
