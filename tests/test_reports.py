"""The 月报 (issue 11) on the bureau's test world counted by hand, its SVG charts, its CSV/XLSX
exports with formula cells neutralised, the search report's period choice and export, and
bearer tokens for the bureau's scripts.

Counted by hand for this month, on top of tests/bureau_world.py:
  demo articles: published at month end A B C D = 4; new A B C D E = 5 (E published, then
  archived); revised B = 1; archived E = 1; stale B = 1. Reads: A ×3 (reader, editor, visitor),
  B (reader2), C (reader) = 5, by procurement units 3. Province adds G: published 5, new 6,
  stale 2, reads 6, by units 4.
  Votes: not helpful on A and B, helpful on A (a visitor, added below) → 1 / 3.
  Requests: opened 2, closed 1 (declined at once: 0 days), overdue 0.
  Tickets: received 2, linked 1 → 50 %.
  Searches (province, added below): 打印机 (clicked), =HYPERLINK(...) and 量子纠缠 ×2 with no
  result, one weak 扫描仪 → 5 searches, 3 zero-result, 1 weak, 1 clicked → 20 %.
The month before is empty: every figure 0 (ratios none), so each change equals this month.
"""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from kb import db, searchlog
from kb.accounts import SYSTEM, create_token, get_user
from kb.exports import neutralise, to_csv, to_xlsx
from kb.freshness import china_today
from tests.bureau_world import build_world

INJECTION = '=HYPERLINK("http://evil.example/","点我")'


@pytest.fixture
def world(app, client, login_as, make_article):  # type: ignore[no-untyped-def]
    curator = build_world(app, client, login_as, make_article)
    voted = client.post("/api/v1/articles/a-faq/feedback", json={"helpful": True})
    assert voted.status_code == 201
    with app.app_context():
        s = db.session()
        log_id = searchlog.record(s, SYSTEM, "打印机", 3)
        searchlog.click(s, log_id, "a-faq")
        searchlog.record(s, SYSTEM, INJECTION, 0)
        searchlog.record(s, SYSTEM, "量子纠缠", 0)
        searchlog.record(s, SYSTEM, "量子纠缠", 0)
        searchlog.record(s, SYSTEM, "扫描仪", 2, weak=True)
    return curator


def this_month() -> str:
    return china_today().strftime("%Y-%m")


def rows_of(body: dict) -> dict[str, tuple]:
    return {r["key"]: (r["current"], r["previous"], r["change"]) for r in body["rows"]}


def test_enterprise_month_counted_by_hand(world):
    body = world.get(f"/api/v1/reports/monthly?month={this_month()}&enterprise=demo").get_json()
    assert body["enterprise"] == "demo" and body["month"] == this_month()
    now = {k: v[0] for k, v in rows_of(body).items()}
    assert now == {
        "published": 4,
        "new": 5,
        "revised": 1,
        "archived": 1,
        "stale": 1,
        "reads": 5,
        "reads_by_units": 3,
        "searches": 5,
        "zero_result": 3,
        "weak": 1,
        "click_through": 0.2,
        "helpful": 1,
        "not_helpful": 2,
        "helpful_ratio": 0.3333,
        "opened": 2,
        "closed": 1,
        "overdue": 0,
        "median_days_to_close": 0.0,
        "received": 2,
        "linked": 1,
        "link_rate": 0.5,
    }
    rows = rows_of(body)
    assert rows["new"] == (5, 0, 5) and rows["click_through"] == (0.2, None, None)
    search = body["current"]["search"]
    assert search["top_zero"] == [["量子纠缠", 2], [INJECTION, 1]]
    assert search["top_weak"] == [["扫描仪", 1]]


def test_province_month_adds_the_other_enterprise(world):
    now = {k: v[0] for k, v in rows_of(world.get("/api/v1/reports/monthly").get_json()).items()}
    assert (now["published"], now["new"], now["stale"], now["reads"], now["reads_by_units"]) == (
        5,
        6,
        2,
        6,
        4,
    )


def test_a_month_without_activity_is_all_zero(world):
    body = world.get("/api/v1/reports/monthly?month=2025-01").get_json()
    assert body["previous_month"] == "2024-12"
    assert all(r["current"] in (0, None) for r in body["rows"])


def test_the_page_prints_figures_and_server_drawn_charts(world):
    page = world.get(f"/reports/monthly?month={this_month()}&enterprise=demo").get_data(
        as_text=True
    )
    assert "示例企业 知识库月报" in page
    assert (
        '<tr data-key="new"><th>新增文章</th><td class="num">5</td><td class="num">0</td>' in page
    )
    assert page.count("<svg") == 5 and "<script" not in page.split("<main")[1].split("</main>")[0]
    assert "量子纠缠" in page and "&lt;" not in page.split("无结果搜索 Top 20")[0][-50:]
    assert "=HYPERLINK(&#34;http://evil.example/&#34;" in page  # escaped in the SVG and table


def test_exports_neutralise_formula_cells(world):
    month = this_month()
    raw = world.get(f"/reports/monthly?month={month}&format=csv")
    assert raw.mimetype == "text/csv"
    assert raw.headers["Content-Disposition"] == f'attachment; filename="kb-monthly-{month}.csv"'
    cells = [c for row in csv.reader(io.StringIO(raw.data.decode("utf-8-sig"))) for c in row]
    assert "'" + INJECTION in cells and INJECTION not in cells
    assert ["新增文章", "6", "0", "6"] in list(
        csv.reader(io.StringIO(raw.data.decode("utf-8-sig")))
    )
    book = load_workbook(io.BytesIO(world.get(f"/reports/monthly?month={month}&format=xlsx").data))
    zero = book.worksheets[1]
    values = [(c.value, c.data_type) for row in zero.iter_rows() for c in row]
    assert ("'" + INJECTION, "s") in values
    assert all(not (isinstance(v, str) and v.startswith("=")) for v, _t in values)


@pytest.mark.parametrize("cell", ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\t=1"])
def test_every_formula_start_is_neutralised_in_both_formats(cell):
    assert neutralise(cell) == "'" + cell
    assert to_csv([("", [[cell]])]).decode("utf-8-sig").startswith(("'", "\"'"))
    sheet = load_workbook(io.BytesIO(to_xlsx([("t", [[cell, -3, "普通文字"]])]))).active
    assert [c.value for c in sheet[1]] == ["'" + cell, -3, "普通文字"]
    assert sheet["A1"].data_type == "s"


def test_bad_month_and_format_get_clear_errors(world):
    bad = world.get("/api/v1/reports/monthly?month=2025-13")
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"] == {
        "month": "格式应为 YYYY-MM"
    }
    page = world.get("/reports/monthly?format=pdf")
    assert page.status_code == 422 and "format 应为 csv 或 xlsx" in page.get_data(as_text=True)


def test_the_bureaus_script_fetches_with_a_bearer_token(app, world):
    with app.app_context():
        s = db.session()
        curator_token = create_token(s, SYSTEM, get_user(s, "curator"), "月报脚本")
        reader_token = create_token(s, SYSTEM, get_user(s, "reader"), "读者")
        s.commit()
    client = app.test_client()  # no session: the token alone
    got = client.get(
        "/reports/monthly?format=xlsx", headers={"Authorization": f"Bearer {curator_token}"}
    )
    assert got.status_code == 200 and got.data[:2] == b"PK"
    assert (
        client.get("/evaluation?format=csv", headers={"Authorization": f"Bearer {curator_token}"})
    ).status_code == 200
    denied = client.get(
        "/reports/monthly?format=csv", headers={"Authorization": f"Bearer {reader_token}"}
    )
    assert denied.status_code == 404


def test_search_report_has_a_period_choice_and_exports(world):
    month = this_month()
    page = world.get(f"/search/report?month={month}").get_data(as_text=True)
    assert f"搜索统计（{month}）" in page and "量子纠缠" in page
    assert "量子纠缠" not in world.get("/search/report?month=2025-01").get_data(as_text=True)
    assert "搜索统计（最近 7 天）" in world.get("/search/report?days=7").get_data(as_text=True)
    rows = list(
        csv.reader(
            io.StringIO(world.get("/search/report?days=30&format=csv").data.decode("utf-8-sig"))
        )
    )
    assert ["量子纠缠", "2"] in rows and ["'" + INJECTION, "1"] in rows
    book = load_workbook(io.BytesIO(world.get(f"/search/report?month={month}&format=xlsx").data))
    assert [c.value for c in book.worksheets[1][2]] == ["量子纠缠", 2, 0]


def test_search_and_loop_figures_are_drawn_too(world, login_as):
    search = world.get(f"/search/report?month={this_month()}").get_data(as_text=True)
    assert search.count("<svg") == 2 and "<title>无结果的搜索 Top 20</title>" in search
    loop = world.get("/feedback/stats").get_data(as_text=True)
    chart = loop.split("<title>各企业工单闭环关联率（%）</title>")[1].split("</svg>")[0]
    assert ">示例企业</text>" in chart and ">50</text>" in chart  # T1 of T1, T2 linked
    own = login_as("editor").get("/feedback/stats").get_data(as_text=True)
    assert own.count("<svg") == 1 and "另一企业" not in own
