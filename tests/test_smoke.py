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
