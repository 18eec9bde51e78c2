"""Timeliness checks (issue 11): default review dates per type, the stale banner and API flag,
复核无误 by the owning editor or a curator, the 需复审 queue and its API, the months-per-type
setting, replacement of archived articles (301), and the read counter behind item 14."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from kb import db
from kb.freshness import add_months, china_today
from kb.models import ArticleRead, AuditEvent
from tests.conftest import get_article

BANNER = "本文已超过复核日期（2024-03-01），内容可能已过时"


def text(response) -> str:
    return response.get_data(as_text=True)


def test_publication_without_a_review_date_gets_its_types_default(app, make_article):
    fault = make_article(slug="fault", type="故障处理")
    hard = make_article(slug="hard", type="疑难问题")
    own = make_article(slug="own", review_by=date(2031, 5, 6))
    today = china_today()
    assert get_article(app, fault).review_by == add_months(today, 12)
    assert get_article(app, hard).review_by == add_months(today, 6)
    assert get_article(app, own).review_by == date(2031, 5, 6)


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert add_months(date(2024, 12, 15), 12) == date(2025, 12, 15)


def test_a_stale_article_keeps_serving_with_the_banner_and_the_api_flag(client, make_article):
    old = make_article(slug="old-fix", review_by=date(2024, 3, 1))
    fresh = make_article(slug="fresh-fix", title="另一篇文章", review_by=date(2099, 1, 1))
    page = client.get(f"/articles/{old}")
    assert page.status_code == 200
    assert BANNER in text(page)
    assert "内容可能已过时" not in text(client.get(f"/articles/{fresh}"))
    assert client.get(f"/api/v1/articles/{old}").get_json()["stale"] is True
    assert client.get(f"/api/v1/articles/{fresh}").get_json()["stale"] is False


def test_the_owning_editor_confirms_and_the_date_moves_with_an_audit_event(
    app, login_as, make_article
):
    slug = make_article(slug="old-fix", review_by=date(2024, 3, 1))
    other, reader = login_as("editor2"), login_as("reader")
    assert other.post(f"/articles/{slug}/confirm").status_code == 403
    assert reader.post(f"/api/v1/articles/{slug}/confirm").status_code == 403
    assert get_article(app, slug).review_by == date(2024, 3, 1)

    editor = login_as("editor")
    assert "复核无误" in text(editor.get(f"/articles/{slug}"))
    response = editor.post(f"/articles/{slug}/confirm")
    assert response.status_code == 302
    expected = add_months(china_today(), 12)
    assert get_article(app, slug).review_by == expected
    page = text(editor.get(f"/articles/{slug}"))
    assert "内容可能已过时" not in page
    assert f"<dt>复审日期</dt><dd>{expected}</dd>" in page
    with app.app_context():
        event = db.session().scalar(
            select(AuditEvent).where(AuditEvent.action == "article.confirm")
        )
        assert event.actor_name == "editor" and event.object_id == slug
        assert event.detail == {"before": "2024-03-01", "after": expected.isoformat()}


def test_a_curator_confirms_through_the_api(app, login_as, make_article):
    slug = make_article(slug="old-fix", owner="other", review_by=date(2024, 3, 1))
    body = login_as("curator").post(f"/api/v1/articles/{slug}/confirm").get_json()
    assert body == {
        "slug": slug,
        "review_by": add_months(china_today(), 12).isoformat(),
        "stale": False,
    }


def test_review_due_queue_per_role_and_sorting(app, login_as, make_article):
    today = china_today()
    make_article(slug="a-overdue", title="过期文章甲", review_by=today - timedelta(days=3))
    make_article(slug="b-soon", title="将到期文章乙", review_by=today + timedelta(days=10))
    make_article(slug="c-later", title="远期文章丙", review_by=today + timedelta(days=200))
    make_article(
        slug="d-other", title="另一企业过期", owner="other", review_by=today - timedelta(days=40)
    )

    editor = login_as("editor").get("/api/v1/review-due").get_json()
    assert [r["slug"] for r in editor["results"]] == ["a-overdue", "b-soon"]
    assert editor["results"][0]["overdue"] is True and editor["results"][0]["days_left"] == -3

    curator = login_as("curator")
    by_date = curator.get("/api/v1/review-due").get_json()["results"]
    assert [r["slug"] for r in by_date] == ["d-other", "a-overdue", "b-soon"]
    by_org = curator.get("/api/v1/review-due?sort=enterprise").get_json()["results"]
    assert [r["slug"] for r in by_org] == ["a-overdue", "b-soon", "d-other"]
    page = text(curator.get("/review-due?sort=enterprise"))
    assert page.index("过期文章甲") < page.index("将到期文章乙") < page.index("另一企业过期")
    assert "远期文章丙" not in page and "已过期 3 天" in page

    assert "另一企业过期" not in text(login_as("editor").get("/review-due"))
    assert login_as("reader").get("/review-due").status_code == 404
    assert login_as("reader").get("/api/v1/review-due").status_code == 404
    bad = curator.get("/api/v1/review-due?sort=title")
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["sort"]


def test_curators_set_the_months_per_type(app, login_as, make_article):
    curator = login_as("curator")
    form = {
        "常见问题": "12",
        "故障处理": "3",
        "操作指南": "12",
        "产品配置": "12",
        "技术原理": "24",
        "疑难问题": "6",
    }
    assert curator.post("/review-due/settings", data=form).status_code == 302
    slug = make_article(slug="short-lived", type="故障处理")
    assert get_article(app, slug).review_by == add_months(china_today(), 3)

    bad = curator.post("/review-due/settings", data={**form, "故障处理": "0"})
    assert bad.status_code == 422 and "应在 1～120 之间" in text(bad)
    assert login_as("editor").get("/review-due/settings").status_code == 404
    assert login_as("reader").post("/review-due/settings", data=form).status_code == 404


def test_archiving_with_a_replacement_answers_301_to_the_new_article(app, login_as, make_article):
    old = make_article(slug="old-guide", title="旧版打印机脱机处理")
    new = make_article(slug="new-guide", title="新版打印机脱机处理")
    curator = login_as("curator")
    refused = curator.post(
        f"/api/v1/articles/{old}/archive", json={"reason": "已过时", "replaced_by": "no-such"}
    )
    assert refused.status_code == 422 and "replaced_by" in refused.get_json()["error"]["fields"]
    assert get_article(app, old).status == "published"

    done = curator.post(
        f"/api/v1/articles/{old}/archive", json={"reason": "已过时", "replaced_by": new}
    )
    assert done.status_code == 200
    for client in (app.test_client(), login_as("reader"), curator):
        moved = client.get(f"/articles/{old}")
        assert moved.status_code == 301
        assert moved.headers["Location"].endswith(f"/articles/{new}")
    page = text(app.test_client().get(f"/articles/{new}"))
    assert "本文取代了已归档的《旧版打印机脱机处理》" in page
    assert app.test_client().get(f"/api/v1/articles/{new}").get_json()["replaces"] == [old]

    # restored, the old address is its own again
    assert curator.post(f"/api/v1/articles/{old}/restore").status_code == 200
    assert app.test_client().get(f"/articles/{old}").status_code == 200


def test_archiving_from_the_review_page_can_name_the_replacement(app, login_as, make_article):
    old = make_article(slug="old-guide", title="旧版")
    new = make_article(slug="new-guide", title="新版")
    curator = login_as("curator")
    curator.post(f"/review/{old}/archive", data={"reason": "合并", "replaced_by": new})
    assert get_article(app, old).replaced_by == new
    assert app.test_client().get(f"/articles/{old}").status_code == 301


def test_reads_are_counted_per_day_and_kind_of_reader(app, client, login_as, make_article):
    slug = make_article(slug="read-me")
    reader = login_as("reader")
    # the count is written when the server closes the response, as waitress does after sending
    reader.get(f"/articles/{slug}").close()
    reader.get(f"/api/v1/articles/{slug}").close()
    client.get(f"/articles/{slug}").close()
    login_as("editor").get(f"/articles/{slug}").close()
    login_as("editor").get(f"/articles/{slug}/revisions").close()  # work pages are not reads
    with app.app_context():
        rows = {
            (r.role, r.org_kind): (r.count, r.day)
            for r in db.session().scalars(select(ArticleRead))
        }
        assert rows == {
            ("reader", "unit"): (2, china_today()),
            ("anonymous", ""): (1, china_today()),
            ("editor", "enterprise"): (1, china_today()),
        }
        assert db.session().scalar(select(func.count()).select_from(ArticleRead)) == 3
