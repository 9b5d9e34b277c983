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


def test_training_catalogue_enrolment_and_completion_in_the_console(visitor_for: Any) -> None:
    v = visitor_for("sg-analyst")
    v.visit("/norms", "norms-with-training-link")
    v.page.click("a:text-is('Training: courses, enrolments and completions')")
    v.page.wait_for_url("**/norms/training")
    v.check("training-empty")
    course = v.page.locator("form[aria-label='Add a course']")
    course.locator("#ctitle").fill(f"Incident handling {HOSTILE}")
    course.locator("#format").select_option("e-learning")
    course.locator("#ctags").fill("D3 h")
    course.locator("button:text-is('Add the course')").click()
    v.page.wait_for_url("**/norms/training")
    expect(v.page.locator("section").first).to_contain_text(f"Incident handling {HOSTILE}")
    enrol = v.page.locator("form[aria-label='Enrol participants']")
    enrol.locator("#participants").fill("12")
    enrol.locator("button:text-is('Enrol')").click()
    v.page.wait_for_url("**/norms/training")
    done = v.page.locator("form[aria-label='Record a completion']")
    done.locator("#completed").fill("9")
    done.locator("button:text-is('Record the completion')").click()
    v.page.wait_for_url("**/norms/training")
    v.check("training")
    figures = v.page.locator("section[aria-labelledby=figures] tbody tr")
    expect(figures).to_have_count(1)
    expect(figures).to_contain_text("SG")
    expect(figures.locator("td")).to_have_text(["1", "1", "12", "9"])
    expect(v.page.locator("section[aria-labelledby=enrolled] tbody")).to_contain_text("completed")


def test_a_need_is_matched_and_moved_on_in_the_console(visitor_for: Any) -> None:
    sg = visitor_for("sg-analyst")
    sg.visit("/norms/capacity", "capacity-before-step")
    need = sg.page.locator("form[aria-label='Post a need or an offer']")
    need.locator("#ptitle").fill("Legal drafting mission")
    need.locator("#kind").select_option("expert-mission")
    need.locator("#tags").fill("D4")
    need.locator("button:text-is('Post')").click()
    sg.page.wait_for_url("**/norms/capacity")

    th = visitor_for("th-analyst")
    th.visit("/norms/capacity", "capacity-other-state")
    offer = th.page.locator("form[aria-label='Post a need or an offer']")
    offer.locator("#what").select_option("offer")
    offer.locator("#kind").select_option("expert-mission")
    offer.locator("#ptitle").fill("Cyber law experts")
    offer.locator("#tags").fill("D4")
    offer.locator("button:text-is('Post')").click()
    th.page.wait_for_url("**/norms/capacity")
    expect(th.page.locator("form[aria-label^='Move Legal drafting mission']")).to_have_count(0)

    sg.visit("/norms/capacity", "capacity-match")
    sg.page.click(
        "form[aria-label='Move Legal drafting mission with Cyber law experts to matched'] button"
    )
    sg.page.wait_for_url("**/norms/capacity")
    sg.page.click("form[aria-label='Move Legal drafting mission to agreed'] button")
    sg.page.wait_for_url("**/norms/capacity")
    sg.check("capacity-agreed")
    row = sg.page.locator("section[aria-labelledby=needs] table").first.locator(
        "tr", has_text="Legal drafting mission"
    )
    expect(row).to_contain_text("agreed")
    expect(row.locator("button")).to_have_text("Move to delivered")
