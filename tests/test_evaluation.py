"""Evaluation items 13 and 14 (issue 11) on a fixture counted by hand, through the real
operations (publishing, votes, replies, tickets, reads), the curators' threshold page, the API,
the page and its exports; readers and editors get 404.

The fixture, this year (all counted by hand):
  demo:  A 常见问题 public (fails the checker: no FAQ sections), B 故障处理 public, stale and
         published twice, C 操作指南 登录可见, D 技术原理 受限; E archived; F draft.
         Unit reads: reader reads A and C, reader2 reads B → 3 (editor and a visitor read A: not
         counted). Requests: one on A declined today (on time), one on B open, not yet due.
         Tickets: T1 cites A (linked), T2 cites nothing (draft, unpublished) → 1 of 2.
  other: G 故障处理 受限 (allowed demo-unit), stale; reader reads it → 1 unit read.
Thresholds: 4 articles, 3 kinds, 1 changed, 75 % checker, 75 % fresh, 75 % open, 3 unit reads,
100 % answered, 50 % linked.
"""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from kb.freshness import china_today
from tests.bureau_world import THRESHOLDS, build_world


@pytest.fixture
def world(app, client, login_as, make_article):  # type: ignore[no-untyped-def]
    return build_world(app, client, login_as, make_article)


def items(body: dict) -> dict[int, dict]:
    return {it["item"]: it for it in body["items"]}


def checks(item: dict) -> dict[str, tuple[object, bool]]:
    return {c["name"]: (c["value"], c["passed"]) for c in item["evidence"]["checks"]}


def test_an_enterprise_meeting_every_threshold_gets_yes(world):
    year = china_today().year
    body = world.get(f"/api/v1/evaluation?enterprise=demo&year={year}").get_json()
    assert body["enterprise"] == "demo" and body["year"] == year
    assert [it["item"] for it in body["items"]] == [13, 14]
    i13, i14 = items(body)[13], items(body)[14]
    assert (i13["verdict"], i13["advice"], i14["verdict"], i14["advice"]) == (
        "是",
        None,
        "是",
        None,
    )
    e13 = i13["evidence"]
    assert e13["published"] == 4
    assert e13["by_type"] == {
        "常见问题": 1,
        "故障处理": 1,
        "操作指南": 1,
        "产品配置": 0,
        "技术原理": 1,
        "疑难问题": 0,
    }
    assert e13["kinds_covered"] == ["常见问题", "解决方案", "操作指南"]
    assert (e13["added"], e13["updated"]) == (4, 0)
    assert (e13["passing_checker"], e13["passing_checker_share"]) == (3, 0.75)
    assert (e13["fresh"], e13["fresh_share"]) == (3, 0.75)
    e14 = i14["evidence"]
    assert (e14["open_to_units"], e14["open_share"]) == (3, 0.75)
    assert e14["reads_by_units"] == 3
    assert (e14["requests_due"], e14["requests_answered_on_time"], e14["answered_share"]) == (
        1,
        1,
        1.0,
    )
    assert (e14["tickets_closed"], e14["tickets_linked"], e14["linked_share"]) == (2, 1, 0.5)
    assert checks(i14)["min_unit_reads"] == (3, True)


def test_an_enterprise_falling_short_gets_no_with_advice_in_chinese(world):
    body = world.get("/api/v1/evaluation?enterprise=other").get_json()
    i13, i14 = items(body)[13], items(body)[14]
    assert i13["verdict"] == "否" and i14["verdict"] == "否"
    assert checks(i13) == {
        "min_published": (1, False),
        "min_kinds": (1, False),
        "min_changed": (1, True),
        "min_check_pass": (1.0, True),
        "min_fresh": (0.0, False),
    }
    assert i13["advice"].startswith("已发布文章 1 篇，未达 4 篇")
    assert (
        "内容种类只有 1 种（解决方案），未达 3 种：请补充缺少的种类（常见问题、疑难问题、操作指南）"
        in (i13["advice"])
    )
    assert "未过复核日期的文章占 0.0%，低于 75.0%" in i13["advice"]
    # no requests and no tickets: nothing failed there
    assert checks(i14) == {
        "min_open": (0.0, False),
        "min_unit_reads": (1, False),
        "min_answered": (None, True),
        "min_linked": (None, True),
    }
    assert "向采购单位开放的文章占 0.0%，低于 75.0%" in i14["advice"]


def test_province_pools_the_enterprises_and_counts_their_verdicts(world):
    body = world.get("/api/v1/evaluation").get_json()
    assert body["enterprise"] is None and body["year"] == china_today().year
    i13, i14 = items(body)[13], items(body)[14]
    assert i13["evidence"]["published"] == 5
    assert i13["evidence"]["passing_checker_share"] == 0.8
    assert i13["evidence"]["fresh_share"] == 0.6
    assert i13["verdict"] == "否" and "未过复核日期的文章占 60.0%，低于 75.0%" in i13["advice"]
    assert i14["evidence"]["open_share"] == 0.6 and i14["evidence"]["reads_by_units"] == 4
    assert i14["verdict"] == "否"
    assert i13["evidence"]["enterprises"] == {"是": 1, "否": 1, "不涉及": 0}
    assert i14["evidence"]["enterprises"] == {"是": 1, "否": 1, "不涉及": 0}


def test_a_raised_threshold_turns_the_verdict_and_is_shown_beside_it(world):
    assert (
        world.post("/evaluation/settings", data={**THRESHOLDS, "min_unit_reads": "4"}).status_code
        == 302
    )
    i14 = items(world.get("/api/v1/evaluation?enterprise=demo").get_json())[14]
    assert i14["verdict"] == "否"
    assert i14["advice"].startswith("采购单位用户年内阅读 3 次，未达 4 次")
    page = world.get("/evaluation").get_data(as_text=True)
    assert "采购单位用户年内阅读不少于（次）</td><td>3</td><td>4</td><td>否" in page


def test_a_year_before_the_enterprises_existed_is_not_applicable(world):
    body = world.get("/api/v1/evaluation?enterprise=demo&year=2020").get_json()
    assert [(it["verdict"], it["advice"]) for it in body["items"]] == [
        ("不涉及", None),
        ("不涉及", None),
    ]


def test_bad_parameters_and_thresholds_get_clear_errors(world):
    bad = world.get("/api/v1/evaluation?enterprise=nope")
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"] == {
        "enterprise": "企业代码不存在"
    }
    assert world.get("/api/v1/evaluation?year=20x6").status_code == 422
    refused = world.post("/evaluation/settings", data={**THRESHOLDS, "min_open": "120"})
    assert refused.status_code == 422
    assert "向采购单位开放（公开+登录可见）的比例不低于：应在 0～100 之间" in refused.get_data(
        as_text=True
    )


def test_readers_and_editors_get_404(world, login_as, client):
    for name in ("reader", "editor"):
        c = login_as(name)
        for path in (
            "/evaluation",
            "/evaluation?format=xlsx",
            "/evaluation/settings",
            "/api/v1/evaluation",
            "/reports/monthly",
        ):
            assert c.get(path).status_code == 404, (name, path)
    assert client.get("/api/v1/evaluation").status_code == 401


def test_page_and_exports_give_the_same_verdicts(world):
    page = world.get("/evaluation").get_data(as_text=True)
    assert page.count('class="verdict">是<') == 2 and page.count('class="verdict">否<') == 4
    assert "整改建议" in page
    rows = list(
        csv.reader(io.StringIO(world.get("/evaluation?format=csv").data.decode("utf-8-sig")))
    )
    verdicts = {(r[0], r[2]): r[3] for r in rows if len(r) == 5 and r[2] in ("13", "14")}
    assert verdicts == {
        ("全区", "13"): "否",
        ("全区", "14"): "否",
        ("demo", "13"): "是",
        ("demo", "14"): "是",
        ("other", "13"): "否",
        ("other", "14"): "否",
    }
    response = world.get("/evaluation?format=xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    first = book.worksheets[0]
    cells = [[c.value for c in row] for row in first.iter_rows()]
    assert ["demo", "示例企业", 13, "是", None] in cells


def test_the_page_can_focus_on_one_enterprise(world):
    page = world.get("/evaluation?enterprise=other").get_data(as_text=True)
    assert 'id="ent-other"' in page and 'id="ent-demo"' not in page and 'id="province"' in page
    rows = list(
        csv.reader(
            io.StringIO(
                world.get("/evaluation?enterprise=other&format=csv").data.decode("utf-8-sig")
            )
        )
    )
    assert {r[0] for r in rows if len(r) == 5 and r[2] in ("13", "14")} == {"全区", "other"}
    assert world.get("/evaluation?enterprise=nope").status_code == 422
