"""The web UI in a real browser against a real server: what a person sees and does.

From the experiments list to a run, its charts and artifact previews; filtering runs with a
valid and a malformed filter; comparing two runs; moving an alias and promoting a version
through a failing and then a passing gate. Screenshots land in tests/.out/ui/.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from slipway.tracking.client import Client

MODEL = "churn-classifier"


def test_experiments_list_shows_run_counts_and_searches(page, ui_server, shot) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    churn = page.get_by_role("row", name=re.compile(r"churn"))
    expect(churn).to_contain_text("15")  # 12 runs, a parent and its 2 children
    expect(page.get_by_role("link", name="fraud")).to_be_visible()
    shot(page, "experiments")
    page.get_by_label("Search").fill("fra")
    expect(page.get_by_role("link", name="churn")).to_have_count(0)
    expect(page.get_by_role("link", name="fraud")).to_be_visible()


def test_runs_table_filters_sorts_and_reports_a_malformed_filter(page, ui_server, shot) -> None:
    seeded = ui_server.seeded
    page.goto("/")
    page.get_by_role("link", name="churn").click()
    expect(page.get_by_role("heading", name="churn")).to_be_visible()
    expect(page.locator("#panel")).to_contain_text("15 runs")

    page.get_by_label("Filter runs").fill("metrics.accuracy > 0.85 and params.model != 'gb'")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#panel")).to_contain_text("3 runs")
    expect(page).to_have_url(re.compile(r"filter=metrics\.accuracy"))

    page.get_by_label("Filter runs").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#panel")).to_contain_text("15 runs")
    page.get_by_role("link", name="accuracy").click()  # sort by the metric, best first
    first = page.locator("#runs-table tbody tr").first
    expect(first.get_by_role("link")).to_have_attribute("href", f"/runs/{seeded.best_run}")
    shot(page, "runs-table")

    page.get_by_label("Filter runs").fill("metrics.accuracy >> 0.8")
    page.get_by_role("button", name="Filter").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This filter does not parse")
    expect(alert).to_contain_text("position 17")
    expect(alert.locator(".caret")).to_have_text(re.compile(r"^\s{17}\^$"))
    shot(page, "runs-filter-error")


def test_compare_two_runs(page, ui_server, shot) -> None:
    page.goto(f"/runs?e={ui_server.seeded.experiment_id}&filter=params.model+%3D+%27rf%27")
    boxes = page.locator("#runs-table tbody input[name=r]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()
    differing = page.locator("#compare-table tr.differs")
    expect(differing.filter(has_text="learning_rate")).to_have_count(1)
    expect(page.locator("#compare-table tr", has_text="model").first).not_to_have_class("differs")
    expect(page.locator(".chart-panel .u-over")).to_be_visible()  # the overlaid curves drew
    expect(page.locator("svg.chart-svg circle")).to_have_count(2)
    shot(page, "compare")


def test_run_page_charts_and_artifact_previews(page, ui_server, shot) -> None:
    page.goto(f"/runs/{ui_server.seeded.artifact_run}")
    expect(page.get_by_role("heading", name="Parameters")).to_be_visible()
    expect(page.locator(".chart-panel .u-over")).to_be_visible()
    expect(page.locator(".chart-panel .u-legend")).to_contain_text("loss")
    page.get_by_label("log scale").check()
    expect(page.locator(".chart-panel .u-over")).to_be_visible()

    artifacts = page.locator("#artifacts")
    artifacts.get_by_role("link", name="eval").click()
    artifacts.get_by_role("link", name=re.compile("settings.yaml")).click()
    expect(artifacts.locator("pre")).to_contain_text("threshold: 0.5")
    artifacts.get_by_role("link", name=re.compile("report.html")).click()
    report = artifacts.frame_locator("iframe")  # sandboxed: shown, but cannot script the UI
    expect(report.get_by_role("heading", name="Evaluation report")).to_be_visible()
    artifacts.get_by_role("link", name=re.compile("confusion.png")).click()
    expect(artifacts.get_by_role("img", name="eval/confusion.png")).to_be_visible()
    artifacts.get_by_role("link", name="root").click()
    artifacts.get_by_role("link", name="data").click()
    artifacts.get_by_role("link", name=re.compile("head.parquet")).click()
    expect(artifacts).to_contain_text("First 20 of 50 rows")
    expect(artifacts.get_by_role("cell", name="c007")).to_be_visible()
    shot(page, "run")

    page.goto(f"/runs/{ui_server.seeded.parent_run}")
    expect(page.locator(".card p", has_text="A small **sweep** over the depth.")).to_be_visible()
    expect(page.get_by_role("link", name="sweep-trial-1")).to_be_visible()


def test_alias_and_promotion_through_failing_then_passing_gates(page, ui_server, shot) -> None:
    page.goto("/models")
    page.get_by_role("link", name=MODEL).click()
    expect(page.get_by_role("heading", name=MODEL)).to_be_visible()

    page.get_by_label("Alias", exact=True).fill("staging")
    page.locator("#alias-version").select_option("2")
    page.get_by_role("button", name="Set alias").click()
    expect(page.get_by_role("status")).to_have_text("@staging now points at version 2.")

    form = page.locator("#promote-form")
    form.get_by_label("Version").select_option("2")
    form.get_by_label("Requirements").fill("accuracy>=0.99")
    form.get_by_role("button", name="Check gates…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("FAIL")
    expect(dialog.get_by_role("button", name="Promote to @champion")).to_be_disabled()
    shot(page, "promotion-blocked")
    dialog.get_by_role("button", name="Cancel").click()

    form.get_by_label("Requirements").fill("accuracy>=0.5")
    form.get_by_label("Must beat").fill("champion:accuracy")
    form.get_by_role("button", name="Check gates…").click()
    expect(dialog.locator("li.pass")).to_have_count(2)
    shot(page, "promotion-passing")
    dialog.get_by_role("button", name="Promote to @champion").click()
    expect(page.get_by_role("status")).to_contain_text("promoted to @champion: 2 gate(s) passed")
    assert Client(ui_server.url).get_model_version_by_alias(MODEL, "champion").version == 2
    history = page.locator("section", has=page.get_by_role("heading", name="Audit history"))
    expect(history).to_contain_text("champion")
    shot(page, "model")


def test_monitor_page_and_approving_the_waiting_challenger(page, ui_server, shot) -> None:
    page.goto("/monitors")
    page.get_by_role("link", name="churn-watch").click()
    expect(page.get_by_role("heading", name="churn-watch")).to_be_visible()
    expect(page.get_by_text("active alerts")).to_be_visible()
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("41% of columns drifted")
    expect(timeline).to_contain_text("retrained: version 3")
    windows = page.locator("section", has=page.get_by_role("heading", name="Windows"))
    expect(windows.locator("tbody tr")).to_have_count(3)
    expect(windows.locator("tbody tr").first).to_contain_text("0.41")
    report = page.frame_locator("iframe.report")
    expect(report.get_by_text("Dataset drift").first).to_be_visible()
    shot(page, "monitor")

    page.get_by_role("link", name="model page").click()
    expect(page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    page.get_by_role("button", name="Approve version 3").click()
    expect(page.get_by_role("status")).to_have_text("Approved version 3; it was promoted.")
    expect(page.get_by_role("heading", name="Waiting for approval")).to_have_count(0)
    assert Client(ui_server.url).get_model_version_by_alias(MODEL, "champion").version == 3


def test_narrow_dark_layout(browser, ui_server, shot) -> None:
    context = browser.new_context(
        viewport={"width": 420, "height": 800}, color_scheme="dark", base_url=ui_server.url
    )
    page = context.new_page()
    page.goto(f"/runs?e={ui_server.seeded.experiment_id}")
    expect(page.locator("#runs-table")).to_be_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"  # the dark palette
    shot(page, "runs-narrow-dark")
    context.close()
