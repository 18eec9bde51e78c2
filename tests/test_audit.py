"""The audit log viewer (issue 11): filters by user, action, object and date range (China time),
Chinese action names, readable details without escapes, paging, and a CSV export whose
formula-looking cells are neutralised."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from kb.accounts import SYSTEM, create_org
from kb.freshness import china_today

EVIL = '=HYPERLINK("http://evil.example/","x")'


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(response) -> str:
    """The table body and the count line, without the filter form's option labels."""
    page = text(response)
    return "共" + page.split('<p class="muted">共', 1)[1].split("</tbody>")[0]


def test_filters_names_and_readable_details(app, client, login_as, make_article):
    old = make_article(slug="old-guide", title="旧版")
    new = make_article(slug="new-guide", title="新版")
    curator = login_as("curator")
    curator.post(
        f"/api/v1/articles/{old}/archive",
        json={"reason": "内容已过时，改用“新版”", "replaced_by": new},
    )
    client.post("/login", data={"username": EVIL, "password": "wrong"})
    admin = login_as("admin")

    page = rows(admin.get("/admin/audit?action=article.archive"))
    assert "归档文章" in page and "原因：内容已过时，改用“新版”；替代文章：new-guide" in page
    assert "\\u" not in page and "登录失败" not in page
    assert "共 1 条" in page

    by_user = rows(admin.get("/admin/audit?user=curator"))
    assert "共 2 条" in by_user  # the sign-in and the archiving
    assert "登录</td>" in by_user and "归档文章" in by_user

    family = rows(admin.get("/admin/audit?action=auth"))
    assert "登录失败" in family and "用户名或密码错误" in family and "归档文章" not in family

    by_object = rows(admin.get(f"/admin/audit?object=article:{old}"))
    assert "归档文章" in by_object and "新建文章" in by_object and "发布文章" in by_object
    assert "另一" not in by_object and "共 3 条" in by_object

    today = china_today()
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)
    assert "共 0 条" in text(admin.get(f"/admin/audit?from={tomorrow}"))
    assert "共 0 条" in text(admin.get(f"/admin/audit?to={yesterday}"))
    assert "共 0 条" not in text(admin.get(f"/admin/audit?from={today}&to={today}"))
    bad = admin.get("/admin/audit?from=2025-02-30")
    assert bad.status_code == 422 and "日期格式应为 YYYY-MM-DD" in text(bad)
    assert admin.get(f"/admin/audit?from={today}&to={yesterday}").status_code == 422


def test_paging(app, ctx, login_as):
    for n in range(60):
        create_org(ctx, SYSTEM, f"org-{n:02d}", f"单位{n:02d}", "unit")
    ctx.commit()
    admin = login_as("admin")
    first = text(admin.get("/admin/audit?action=org.create"))
    assert "共 65 条" in first  # 60 here and the test world's five
    assert "第 1 / 2 页" in first and "单位59" in first and "单位00" not in first
    second = text(admin.get("/admin/audit?action=org.create&page=2"))
    assert "单位00" in second and "单位59" not in second


def test_csv_export_is_filtered_and_neutralised(app, client, login_as):
    client.post("/login", data={"username": EVIL, "password": "wrong"})
    admin = login_as("admin")
    response = admin.get("/admin/audit?action=auth.login_failed&format=csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["时间（北京时间）", "操作人", "操作", "操作代码", "对象类型", "对象", "详情"]
    assert len(rows) == 2
    assert rows[1][2:6] == ["登录失败", "auth.login_failed", "账号", "'" + EVIL]
    assert rows[1][6].startswith("IP：") and "用户名或密码错误" in rows[1][6]
    assert admin.get("/admin/audit?format=xlsx").status_code == 422


def test_only_administrators_see_the_log(login_as):
    for name in ("reader", "editor", "curator"):
        assert login_as(name).get("/admin/audit").status_code == 403
        assert login_as(name).get("/admin/audit?format=csv").status_code == 403
