"""The site answers for a visitor and a signed-in editor."""


def test_home_lists_published_article(client, make_article):
    make_article(slug="printer-offline")
    page = client.get("/").get_data(as_text=True)
    assert "打印机显示脱机的处理方法" in page
    assert "打印与扫描" in page


def test_editor_can_open_workbench(login_as, make_article):
    make_article(status="draft", slug="my-draft")
    page = login_as("editor").get("/editor/").get_data(as_text=True)
    assert "my-draft" in page


def test_usage_guide_explains_browse_search_download_print(client):
    page = client.get("/help").get_data(as_text=True)
    for words in ("搜索框", "按分类浏览", "下载 Markdown", "打印", "没帮助"):
        assert words in page
    assert "/help" in client.get("/").get_data(as_text=True)


def test_categories_listed_in_the_standard_order(client, make_article):
    make_article(slug="db-one", category="数据库")
    make_article(slug="os-one", category="桌面操作系统")
    page = client.get("/").get_data(as_text=True)
    assert page.index("桌面操作系统") < page.index("数据库")
