"""Search finds the fix from a colloquial question, and never shows what the reader may not see.

The index is real (Whoosh in the test's temporary folder), analysis is real jieba with the
domain dictionary, and every article goes through the lifecycle operations, so these tests
also prove the index follows the database.
"""

from __future__ import annotations

import pytest

PRINTER = dict(
    slug="kylin-printer-offline",
    title="银河麒麟 V10 打印机显示脱机的处理",
    products=["惠普 LaserJet M1136"],
    tags=["打印机", "脱机"],
    summary="打印机脱机、打印任务不出纸时按本文恢复。",
)
WPS = dict(
    slug="wps-freeze-first-row",
    title="WPS 表格冻结首行的方法",
    type="操作指南",
    category="办公软件",
    products=["金山 WPS Office 2019"],
    tags=["WPS", "表格", "冻结窗格"],
    summary="在 WPS 表格中冻结第一行，滚动时表头保持可见。",
    body="## 操作步骤\n\n1. 打开表格，选中第二行。\n2. 点击“视图 → 冻结窗格 → 冻结首行”。\n",
)
DM = dict(
    slug="dm8-service-fails",
    title="达梦 DM8 数据库服务启动失败的处理",
    category="数据库",
    products=["达梦 DM8"],
    tags=["达梦", "数据库"],
    summary="达梦数据库服务无法启动时检查端口和日志。",
    body=(
        "## 现象\n\n服务无法启动。\n\n## 原因\n\n端口 5236 被占用。\n\n"
        "## 解决步骤\n\n1. 执行 `ss -lntp` 查看端口。\n"
    ),
)


def api_search(client, **params):
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def slugs(data):
    return [r["slug"] for r in data["results"]]


@pytest.fixture
def corpus(make_article):
    for fields in (PRINTER, WPS, DM):
        make_article(**fields)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("打印机脱机怎么办", "kylin-printer-offline"),
        ("打印机离线了", "kylin-printer-offline"),  # synonym 离线 → 脱机
        ("麒麟系统打印不出来", "kylin-printer-offline"),
        ("wps表格冻结第一行", "wps-freeze-first-row"),
        ("ＷＰＳ 冻结", "wps-freeze-first-row"),  # full-width letters
        ("达梦数据库启动不了", "dm8-service-fails"),
        ("DM8 启动失败", "dm8-service-fails"),
        ("m1136", "kylin-printer-offline"),  # model number, any case
        ("dayinji", "kylin-printer-offline"),  # full pinyin
        ("dyj", "kylin-printer-offline"),  # pinyin initials
        ('"冻结首行"', "wps-freeze-first-row"),  # phrase
    ],
)
def test_colloquial_question_finds_the_fix_first(client, corpus, query, expected):
    data = api_search(client, q=query)
    assert data["results"], f"no results for {query!r}"
    assert data["results"][0]["slug"] == expected


def test_result_shape_highlights_and_facets(client, corpus):
    data = api_search(client, q="打印机脱机")
    assert set(data) >= {"query", "total", "page", "per_page", "results", "facets", "suggestion"}
    first = data["results"][0]
    assert set(first) >= {
        "slug",
        "title",
        "title_html",
        "snippet_html",
        "type",
        "category",
        "products",
        "enterprise",
        "updated_at",
        "helpful",
    }
    assert "<mark>打印机</mark>" in first["title_html"]
    assert "<mark>" in first["snippet_html"]
    assert data["facets"]["category"]["打印与扫描"] == 1
    assert data["facets"]["product"]["惠普"] == 1
    assert data["facets"]["enterprise"]["demo"] >= 1


def test_markup_in_titles_is_escaped_in_highlights(client, make_article):
    make_article(
        slug="xss-title", title="打印机 <script>alert(1)</script> 处理", summary="<b>粗</b>"
    )
    first = api_search(client, q="打印机")["results"][0]
    assert "<script>" not in first["title_html"]
    assert "&lt;script&gt;" in first["title_html"]
    assert "<b>" not in first["snippet_html"]


def test_filters_sorting_and_pages(client, make_article):
    for i in range(12):
        make_article(
            slug=f"printer-{i}",
            title=f"打印机问题 {i} 号",
            category="打印与扫描" if i % 2 else "外部设备",
        )
    data = api_search(client, q="打印机", category="外部设备", per_page=5)
    assert data["total"] == 6
    assert {r["category"] for r in data["results"]} == {"外部设备"}
    assert len(data["results"]) == 5
    second = api_search(client, q="打印机", category="外部设备", per_page=5, page=2)
    assert len(second["results"]) == 1
    assert not set(slugs(data)) & set(slugs(second))
    newest = api_search(client, q="打印机", sort="newest", per_page=3)
    assert slugs(newest)[0] == "printer-11"


def test_search_page_renders_results_and_suggestion_link(client, corpus):
    page = client.get("/search", query_string={"q": "打印机脱机怎么办"}).get_data(as_text=True)
    assert "银河麒麟 V10" in page and "<mark>" in page
    assert "共找到" in page


# ---- permissions: results, totals, facets, suggestions and type-ahead ------------------------

ROLES = [None, "reader", "reader2", "editor", "editor2", "curator", "admin"]
MAY_SEE = {
    ("public", "published"): set(ROLES),
    ("registered", "published"): set(ROLES) - {None},
    ("restricted", "published"): {"reader", "editor", "curator", "admin"},  # demo-unit listed
}


@pytest.mark.parametrize("visibility", ["public", "registered", "restricted"])
@pytest.mark.parametrize("status", ["draft", "submitted", "returned", "published", "archived"])
def test_search_never_leaks(app, make_article, login_as, visibility, status):
    make_article(
        status=status,
        visibility=visibility,
        allowed_orgs=["demo-unit"],
        slug="secret",
        title="紫荆花专用接入说明",
        category="中间件",
        products=["宝兰德 BES"],
        tags=["紫荆花"],
        summary="联系人电话 13812345678 仅限本单位。",
    )
    # every role against the one article (one app per article state: the suite's slowest
    # part when each role had an app of its own)
    for role in ROLES:
        who = f"{role or 'anonymous'} on a {status} {visibility} article"
        client = login_as(role) if role else app.test_client()
        allowed = role in MAY_SEE.get((visibility, status), set())
        data = api_search(client, q="紫荆花")
        assert (data["total"] == 1) is allowed, who
        assert ("secret" in slugs(data)) is allowed, who
        assert (data["facets"]["category"].get("中间件", 0) == 1) is allowed, who
        assert ("宝兰德" in data["facets"]["product"]) is allowed, who
        typeahead = client.get("/api/v1/suggest", query_string={"q": "紫荆"}).get_json()
        assert any(s["slug"] == "secret" for s in typeahead["suggestions"]) is allowed, who
        # a near-miss must not be corrected into a word only the hidden article contains
        near = api_search(client, q="紫荆华")
        assert ("紫荆花" in (near["suggestion"] or "")) is allowed, who
        # nor may a phone number in a hidden summary be found or suggested
        phone = api_search(client, q="13812345678")
        assert (phone["total"] == 1) is allowed, who


def test_total_counts_only_visible_documents(client, make_article):
    make_article(slug="open-one", title="扫描仪无法识别")
    make_article(slug="closed-one", title="扫描仪驱动内部说明", visibility="restricted")
    make_article(slug="members-one", title="扫描仪登录后可见", visibility="registered")
    data = api_search(client, q="扫描仪")
    assert data["total"] == 1 and slugs(data) == ["open-one"]
    assert sum(data["facets"]["type"].values()) == 1


# ---- the index follows the database -------------------------------------------------------


def test_publish_revise_archive_and_visibility_reach_the_index(app, make_article, ctx):
    from kb import articles as ops
    from kb.accounts import SYSTEM
    from tests.conftest import draft

    client = app.test_client()
    make_article(slug="lifecycle", title="高拍仪无法打开摄像头")
    assert slugs(api_search(client, q="高拍仪")) == ["lifecycle"]

    article = ops.get(ctx, SYSTEM, "lifecycle")
    ops.save(ctx, SYSTEM, article, draft(title="高拍仪黑屏的处理", slug="lifecycle"))
    ops.commit(ctx)
    # an unpublished revision changes nothing readers find
    assert api_search(client, q="黑屏")["total"] == 0
    ops.submit(ctx, SYSTEM, article)
    ops.publish(ctx, SYSTEM, article)
    ops.commit(ctx)
    assert slugs(api_search(client, q="黑屏")) == ["lifecycle"]
    assert api_search(client, q="摄像头")["total"] == 0

    ops.save(
        ctx,
        SYSTEM,
        article,
        draft(title="高拍仪黑屏的处理", slug="lifecycle", visibility="registered"),
    )
    ops.submit(ctx, SYSTEM, article)
    ops.publish(ctx, SYSTEM, article)
    ops.commit(ctx)
    assert api_search(client, q="黑屏")["total"] == 0

    ops.archive(ctx, SYSTEM, article)
    ops.commit(ctx)
    assert api_search(client, q="黑屏")["total"] == 0


def test_a_crash_between_commit_and_index_is_repaired_by_the_next_command(
    app, make_article, runner
):
    from kb.cli import cli

    app.config["INDEX_ENABLED"] = False  # the process "dies" before the index catches up
    make_article(slug="lost-update", title="身份证阅读器无法读卡")
    app.config["INDEX_ENABLED"] = True
    client = app.test_client()
    assert api_search(client, q="身份证阅读器")["total"] == 0

    # any kb command first applies what the index log still holds
    verify = runner.invoke(cli, ["index", "verify"])
    assert verify.exit_code == 0, verify.output
    assert "待处理的索引任务：0" in verify.output and "数据库与索引一致" in verify.output
    assert slugs(api_search(client, q="身份证阅读器")) == ["lost-update"]


def test_verify_finds_and_repairs_changes_made_behind_the_index(app, make_article, runner):
    from sqlalchemy import text

    from kb import db
    from kb.cli import cli

    make_article(slug="tampered", title="双屏显示设置")
    with app.app_context():
        s = db.session()
        s.execute(text("UPDATE article SET status='archived' WHERE slug='tampered'"))
        s.commit()
    client = app.test_client()
    # a change that bypassed the outbox: the index still serves the archived article
    assert api_search(client, q="双屏")["total"] == 1
    result = runner.invoke(cli, ["index", "verify"])
    assert (
        result.exit_code == 1 and "索引中多余：1" in result.output and "tampered" in result.output
    )
    repaired = runner.invoke(cli, ["index", "verify", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert api_search(client, q="双屏")["total"] == 0
    assert runner.invoke(cli, ["index", "verify"]).exit_code == 0


def test_reindex_swaps_in_a_new_index_while_search_keeps_answering(app, make_article, runner):
    import threading

    from kb.cli import cli

    for i in range(30):
        make_article(slug=f"usb-{i}", title=f"USB 设备不识别 第 {i} 例")
    client = app.test_client()
    errors: list[str] = []
    totals: set[int] = set()
    stop = threading.Event()

    def keep_searching() -> None:
        search_client = app.test_client()
        while not stop.is_set():
            response = search_client.get("/api/v1/search", query_string={"q": "USB 设备"})
            if response.status_code != 200:
                errors.append(response.get_data(as_text=True))
            else:
                totals.add(response.get_json()["total"])

    thread = threading.Thread(target=keep_searching)
    thread.start()
    try:
        for _ in range(2):
            result = runner.invoke(cli, ["reindex"])
            assert result.exit_code == 0, result.output
            assert "30 篇" in result.output
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors
    assert totals == {30}
    assert api_search(client, q="USB 设备")["total"] == 30


# ---- hostile and malformed queries -----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "*",
        "a*",
        "打印*",
        "?",
        "~打印机",
        "打印机~2",
        "((((",
        "OR AND NOT",
        '"',
        "[x TO y]",
        "\x00\x01",
    ],
)
def test_query_syntax_is_not_interpreted(client, corpus, query):
    response = client.get("/api/v1/search", query_string={"q": query})
    assert response.status_code == 200
    assert "results" in response.get_json()


def test_overlong_query_gets_a_chinese_message(client, corpus):
    response = client.get("/api/v1/search", query_string={"q": "打" * 201})
    assert response.status_code == 400
    assert "200" in response.get_json()["error"]["message"]
    page = client.get("/search", query_string={"q": "打" * 201})
    assert page.status_code == 400 and "不能超过 200 个字符" in page.get_data(as_text=True)


def test_many_words_are_capped_with_a_notice(client, corpus):
    words = " ".join(
        [
            "打印机",
            "扫描仪",
            "数据库",
            "浏览器",
            "驱动",
            "固件",
            "内核",
            "网络",
            "证书",
            "表格",
            "字体",
            "显卡",
            "声卡",
            "鼠标",
        ]
    )
    data = api_search(client, q=words)
    assert "只按前 12 个关键词" in data["notice"]


@pytest.mark.parametrize(
    ("param", "value"),
    [("page", "0"), ("page", "x"), ("per_page", "500"), ("sort", "random"), ("page", "100000")],
)
def test_bad_parameters_are_4xx_json(client, corpus, param, value):
    response = client.get("/api/v1/search", query_string={"q": "打印机", param: value})
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["message"]


# ---- synonyms and the query log -----------------------------------------------------------------


def test_curator_edits_synonyms_and_search_uses_them(client, corpus, login_as):
    assert api_search(client, q="蓝鲸")["total"] == 0
    curator = login_as("curator")
    text = curator.get("/search/synonyms").get_data(as_text=True)
    assert "统信" in text
    response = curator.post("/search/synonyms", data={"synonyms": "蓝鲸 WPS\n脱机 离线\n"})
    assert response.status_code == 302
    assert slugs(api_search(client, q="蓝鲸"))[0] == "wps-freeze-first-row"
    bad = curator.post("/search/synonyms", data={"synonyms": "孤单\n"})
    assert bad.status_code == 422 and "至少要两个词" in bad.get_data(as_text=True)
    assert login_as("editor").get("/search/synonyms").status_code == 403


def test_queries_are_logged_without_the_user_and_reported_to_curators(
    client, corpus, login_as, ctx
):
    from sqlalchemy import select

    from kb.models import QueryLog

    reader = login_as("reader")
    reader.get("/search", query_string={"q": "打印机脱机"})
    reader.get("/search", query_string={"q": "完全不存在的东西"})
    reader.get("/search", query_string={"q": "打印机墨盒怎么加墨水"})  # only 打印机 is known
    log = ctx.scalars(select(QueryLog).order_by(QueryLog.id)).all()
    assert [(e.query, e.role, e.weak) for e in log] == [
        ("打印机脱机", "reader", False),
        ("完全不存在的东西", "reader", True),
        ("打印机墨盒怎么加墨水", "reader", True),
    ]
    assert log[0].results >= 1 and log[1].results == 0 and log[2].results >= 1
    # the log has no column that could name the user
    columns = {c.name for c in QueryLog.__table__.columns}
    assert columns == {"id", "at", "query", "results", "role", "clicked", "weak"}
    reader.get(f"/search/click/{log[0].id}/kylin-printer-offline")
    ctx.expire_all()
    assert ctx.get(QueryLog, log[0].id).clicked == "kylin-printer-offline"
    report = login_as("curator").get("/search/report").get_data(as_text=True)
    assert "完全不存在的东西" in report
    weak_part = report[report.index("<h2>没有可靠答案的搜索") : report.index("<h2>热门搜索")]
    assert "打印机墨盒怎么加墨水" in weak_part and "打印机脱机<" not in weak_part
    assert login_as("reader").get("/search/report").status_code == 403


# ---- ranking (issue 8): term frequency, filler words, general synonyms, weak answers ---------


def test_a_page_about_the_word_beats_a_page_that_mentions_it_once(client, make_article):
    # counting each word once, the shorter page would win
    make_article(
        slug="layout-notes",
        title="公文排版注意事项",
        summary="排版时的几点注意。",
        body="标题使用字体黑体。页码放在页脚中间。",  # shorter: BM25 would favour it
    )
    make_article(
        slug="font-problems",
        title="公文排版常见问题",
        summary="排版时的常见问题。",
        body="字体显示不对时先检查字体是否安装。缺少字体会被替换成别的字体。"
        "安装字体后重新打开文档。字体名称要与模板一致。",
    )
    data = api_search(client, q="字体")
    assert slugs(data)[:2] == ["font-problems", "layout-notes"]


def test_filler_words_do_not_decide_a_match(client, corpus, make_article):
    make_article(
        slug="scanner-not-found",
        title="扫描仪无法识别的处理",
        tags=["扫描仪"],
        summary="系统找不到扫描仪时按本文排查。",
        body="检查扫描仪的 USB 连接和 SANE 驱动。",
    )
    make_article(
        slug="meeting-room-projector",
        title="会议室投影仪使用说明",
        summary="会议室投影仪的开关和切换。",
        body="投影仪不亮时，麻烦帮忙弄一下电源，能不能开机先看指示灯。",
    )
    # 麻烦 / 帮忙 / 弄 / 一下 say nothing about the answer: only the scanner page is found
    data = api_search(client, q="麻烦帮忙弄一下扫描仪")
    assert slugs(data) == ["scanner-not-found"]


def test_a_general_synonym_finds_the_page_below_the_users_own_word(client, make_article):
    make_article(
        slug="import-pictures",
        title="相片导入相册的方法",
        summary="把相机里的相片导入相册。",
        body="连接相机后，在相册中选择“导入”，勾选要导入的相片。",
    )
    make_article(
        slug="photo-size",
        title="照片尺寸不符合要求时的处理",
        summary="上传照片前调整尺寸。",
        body="用画图工具把照片裁剪为 295×413 像素。",
    )
    # 照片 and 相片 are synonyms in Cilin (not in the curated list): both pages are found,
    # the page with the user's own word first
    assert slugs(api_search(client, q="照片")) == ["photo-size", "import-pictures"]
    assert slugs(api_search(client, q="照片导入"))[0] == "import-pictures"


def test_the_section_with_the_words_together_beats_its_sibling(client, make_article):
    # same manual, same title words; the sibling mentions 线宽, 默认 and 网络类 more often, but
    # far apart: counting words alone, it ranks first
    make_article(
        slug="board-setup-general",
        title="电路板设置：常规选项",
        summary="电路板设置 › 常规选项",
        body="线宽的默认值在这里设置，默认线宽为 0.25 毫米。"
        + "网格大小可以随时更改。" * 4
        + "网络类的颜色也在这里设置，线宽不变。",
    )
    make_article(
        slug="board-setup-track-width",
        title="电路板设置：走线宽度",
        summary="电路板设置 › 走线宽度",
        body="在这里为每个网络类指定默认线宽，新画的走线使用该宽度。",
    )
    # 网络类, 默认 and 线宽 stand together only in the track-width section, whose title also
    # holds 线宽 (走线宽度)
    assert slugs(api_search(client, q="网络类默认线宽在哪设置"))[0] == "board-setup-track-width"


def test_weak_answer_is_flagged_in_the_api_and_on_the_page(client, corpus):
    good = api_search(client, q="打印机脱机怎么办")
    assert good["weak"] is False
    assert slugs(good)[0] == "kylin-printer-offline"
    # shares only 打印机 with the corpus: the rare, decisive words (墨盒, 墨水) are nowhere
    poor = api_search(client, q="打印机墨盒怎么加墨水")
    assert poor["weak"] is True
    assert slugs(poor) == ["kylin-printer-offline"]  # still listed, below the warning
    nonsense = api_search(client, q="火星探测器的发射时间")
    assert nonsense["weak"] is True and nonsense["results"] == []

    page = client.get("/search", query_string={"q": "打印机墨盒怎么加墨水"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "没有找到可靠的答案" in text
    assert text.index("没有找到可靠的答案") < text.index("kylin-printer-offline")
    assert 'href="/help#feedback"' in text
    good_page = client.get("/search", query_string={"q": "打印机脱机怎么办"}).get_data(as_text=True)
    assert "没有找到可靠的答案" not in good_page


def test_an_article_past_its_review_date_ranks_a_little_lower(client, make_article):
    from datetime import date, timedelta

    same = dict(
        title="麒麟系统蓝牙耳机连接后没有声音",
        summary="蓝牙耳机连上却没有声音时切换输出设备。",
        body="在声音设置中把输出设备切换为蓝牙耳机。",
    )
    # the overdue one first: on equal scores it would win on document order
    make_article(slug="bt-overdue", review_by=date.today() - timedelta(days=30), **same)
    make_article(slug="bt-current", review_by=date.today() + timedelta(days=300), **same)
    data = api_search(client, q="蓝牙耳机没有声音")
    assert slugs(data) == ["bt-current", "bt-overdue"]


def test_run_together_pinyin_is_cut_into_indexed_words(client, make_article):
    make_article(
        slug="change-password",
        title="修改密码的方法",
        summary="定期修改登录密码。",
        body="在账户设置中选择“修改密码”。",
    )
    # initials of two words typed together: no indexed pinyin word is "xgmm" itself
    data = api_search(client, q="xgmm")
    assert slugs(data) == ["change-password"]
    assert data["suggestion"] == "xg mm" and "xg mm" in data["notice"]


def test_a_word_in_almost_every_article_still_finds_when_the_other_word_is_unknown(
    client, make_article, monkeypatch
):
    """In a large index a word in most articles is left out of scoring when the query has
    other words; a made-up other word must not leave the query with nothing."""
    from kb.index import searcher

    for n in range(3):
        make_article(slug=f"sys-{n}", title=f"系统设置第 {n} 篇", body=f"系统的设置方法 {n}。")
    monkeypatch.setattr(searcher, "COSTLY_POSTINGS", 0)  # the large-index rule, on 3 articles
    assert api_search(client, q="系统 qwzxv")["total"] == 3
