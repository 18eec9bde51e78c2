"""The content checker's rules: for each, what it must find and what it must leave alone.

Articles are built from a complete, well-formed one (``article``) with one thing changed, so a
rule that fires where it should not shows up as an unexpected finding.
"""

# ruff: noqa: E501  (Chinese test sentences read best unbroken)

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kb import ROOT
from kb.checker import CheckContext, Published, check, similarity
from kb.checker.config import Thresholds
from kb.checker.glossary import GlossaryInvalid, parse
from kb.checker.registry import FAMILIES, RULES

TODAY = date(2026, 11, 24)
BODY = """## 现象

打印机在系统中显示“脱机”，打印任务停在队列里，重新开机后依然不能打印。

## 原因

打印机的网络地址发生变化，CUPS（通用 Unix 打印系统，负责接收和调度打印任务）仍按旧地址连接，任务连续发送失败后队列被自动停用。

## 解决步骤

1. 在终端（输入文字命令来操作电脑的窗口）执行 `lpstat -p` 查看打印机状态。
2. 打开“设置 → 打印机”，删除旧的打印机。
3. 重新添加打印机，选择正确的型号，打印测试页确认出纸正常。

**注意**：操作前请先取消积压的打印任务，避免恢复后重复打印大量旧文件。

## 参考资料

- 《CUPS 管理手册》
"""
META = {
    "title": "打印机显示脱机的处理方法",
    "type": "故障处理",
    "category": "打印与扫描",
    "products": "[惠普 LaserJet Pro M1136 MFP]",
    "summary": "打印机脱机时按本文重新添加打印机。",
    "visibility": "public",
    "review_by": "2027-06-30",
}


def article(body: str = BODY, **meta: str | None) -> str:
    fields = {**META, **meta}
    head = "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)
    return f"---\n{head}---\n\n{body}"


def findings(text: str, **ctx: object) -> list:
    context = CheckContext(today=TODAY, **ctx)  # type: ignore[arg-type]
    return check(text, context).findings


def rules(text: str, **ctx: object) -> set[str]:
    return {f.rule for f in findings(text, **ctx)}


def with_paragraph(paragraph: str) -> str:
    return article(BODY.replace("## 参考资料", f"{paragraph}\n\n## 参考资料"))


def test_the_well_formed_article_has_no_findings():
    assert findings(article()) == []


def test_every_rule_is_registered_once_with_a_family_and_chinese_title():
    assert len(RULES) >= 35
    for rule_id, rule in RULES.items():
        assert rule.family in FAMILIES, rule_id
        assert any("\u4e00" <= c <= "\u9fff" for c in rule.title), rule_id
    assert {r.family for r in RULES.values()} == set(FAMILIES)


@pytest.mark.parametrize("path", sorted((ROOT / "articles").glob("*.md")), ids=lambda p: p.stem)
def test_sample_articles_have_no_errors_and_few_warnings(path: Path):
    report = check(path.read_text(encoding="utf-8"), CheckContext(today=TODAY))
    assert not report.errors, [(f.rule, f.line, f.message) for f in report.errors]
    assert len(report.findings) <= 15


# ---- structure ---------------------------------------------------------------------------


def test_missing_front_matter_is_one_clear_error():
    found = findings(BODY)
    assert [f.rule for f in found if f.severity == "error"] == ["KB-STRUCT-001"]
    assert "front matter" in found[0].message


def test_missing_essential_fields_block_and_name_the_field_line():
    found = findings(article(title=None))
    errors = [f for f in found if f.severity == "error"]
    assert [f.rule for f in errors] == ["KB-STRUCT-002"]
    assert "标题" in errors[0].message


def test_missing_products_and_summary_are_warnings():
    found = findings(article(products=None, summary=None))
    assert {(f.rule, f.severity) for f in found} == {("KB-STRUCT-013", "warning")}
    assert len(found) == 2


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("type", "使用技巧", "未知的文章类型"),
        ("category", "网络设备", "未知的分类"),
        ("visibility", "everyone", "未知的可见范围"),
        ("review_by", "明年", "YYYY-MM-DD"),
    ],
)
def test_invalid_field_values_are_errors_on_their_line(field, value, expected):
    text = article(**{field: value})
    found = [f for f in findings(text) if f.rule == "KB-STRUCT-003"]
    assert found and expected in found[0].message
    assert text.split("\n")[found[0].line - 1].startswith(f"{field}:")


def test_a_different_h1_in_the_body_is_a_warning_with_a_fix():
    found = [f for f in findings(article("# 又一个标题\n\n" + BODY)) if f.rule == "KB-STRUCT-004"]
    assert found and found[0].severity == "warning" and found[0].fix == "## 又一个标题"


SAMPLES = ROOT / "articles"


@pytest.mark.parametrize(
    "name",
    [
        "kylin-hp-m1136-offline.md",  # 故障处理
        "wps-export-pdf.md",  # 操作指南
        "dm8-case-sensitive-principle.md",  # 技术原理
        "kylin-uos-activation-faq.md",  # 常见问题
    ],
)
def test_an_article_opening_with_its_title_as_h1_is_accepted_and_the_h1_is_not_shown(name):
    """Another author's habit: every Markdown editor starts the file with "# <title>"."""
    from kb import frontmatter, render

    head, body = (SAMPLES / name).read_text(encoding="utf-8").split("\n---\n", 1)
    title = frontmatter.split(head + "\n---\n").meta["title"]
    text = f"{head}\n---\n\n# {title}\n{body}"
    report = check(text, CheckContext(today=TODAY))
    assert not report.has_errors, [f.message for f in report.errors]
    assert "KB-STRUCT-004" not in {f.rule for f in report.findings}
    shown = str(render.render(frontmatter.parse(text).body, title).html)
    assert title not in shown.split("</h2>")[0]  # the page's own <h1> shows it once
    assert shown.startswith("<h2")


def test_the_title_h1_may_differ_in_width_and_spacing_but_not_in_words():
    from kb import frontmatter

    same = article("#  打印机显示脱机的处理方法 \n\n" + BODY, title="打印机显示脱机的处理方法")
    assert "KB-STRUCT-004" not in rules(same)
    wide = article("# ＷＰＳ 导出 ＰＤＦ\n\n" + BODY, title="WPS导出PDF")
    assert "KB-STRUCT-004" not in rules(wide)
    other = article("# 打印机脱机\n\n" + BODY)
    assert "KB-STRUCT-004" in rules(other)
    # only the opening line is the title; the same H1 further down is a second title
    later = article(BODY + "\n# 打印机显示脱机的处理方法\n")
    assert "KB-STRUCT-004" in rules(later)
    assert frontmatter.without_title_heading("# 标题\n\n## 现象", "标题") == "\n## 现象"


def test_skipped_heading_level_is_a_warning_and_headings_in_code_are_ignored():
    text = article(BODY.replace("## 参考资料", "#### 补充\n\n补充说明。\n\n## 参考资料"))
    found = [f for f in findings(text) if f.rule == "KB-STRUCT-005"]
    assert len(found) == 1 and found[0].fix == "### 补充"
    code = article(BODY + "\n```bash\n#### 这是注释\n```\n")
    assert "KB-STRUCT-005" not in rules(code)


def test_fault_article_needs_symptom_cause_and_solution():
    text = article(BODY.replace("## 原因", "## 背景"))
    found = [f for f in findings(text) if f.rule == "KB-STRUCT-006"]
    assert len(found) == 1 and "原因" in found[0].message
    assert "KB-STRUCT-006" not in rules(article(BODY.replace("## 原因", "## 原因分析")))


def test_faq_needs_question_and_answer_in_either_form():
    faq = (
        "## 问题\n\n打印机脱机怎么办？\n\n## 解答\n\n"
        + "删除旧打印机后重新添加，再打印一张测试页确认出纸正常。" * 3
    )
    assert "KB-STRUCT-006" not in rules(article(faq, type="常见问题"))
    by_questions = "### 打印机脱机怎么办？\n\n" + "删除旧打印机后重新添加，再打印测试页确认。" * 3
    assert "KB-STRUCT-006" not in rules(article(by_questions, type="常见问题"))
    assert "KB-STRUCT-006" in rules(
        article("## 说明\n\n" + "打印机脱机时重新添加。" * 10, type="常见问题")
    )


def test_guide_and_fault_articles_need_numbered_steps():
    bulleted = BODY.replace("1. ", "- ").replace("2. ", "- ").replace("3. ", "- ")
    found = rules(article(bulleted))
    assert "KB-STRUCT-007" in found and "KB-OPS-003" in found
    assert "KB-STRUCT-007" not in rules(article(bulleted, type="技术原理"))


def test_too_little_substance_is_a_warning_with_a_configurable_minimum():
    short = "## 现象\n\n打印机脱机。\n\n## 原因\n\n地址变了。\n\n## 解决步骤\n\n1. 删除打印机。\n2. 重新添加。\n"
    assert "KB-STRUCT-008" in rules(article(short))
    relaxed = Thresholds.from_mapping({"min_substance": {"故障处理": 5}})
    assert "KB-STRUCT-008" not in rules(article(short), thresholds=relaxed)


def test_empty_section_and_control_characters():
    assert "KB-STRUCT-009" in rules(article(BODY.replace("## 原因\n", "## 原因\n\n## 分析\n")))
    found = [f for f in findings(article(BODY + "\x00\x01")) if f.rule == "KB-STRUCT-012"]
    assert found and found[0].severity == "error" and found[0].line == article(BODY).count("\n") + 1


# ---- operability ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "然后执行 sudo systemctl restart cups 重启服务。",
        "配置保存在 /etc/cups/printers.conf 中。",
        "修改 dm.ini 中的参数后重启。",
    ],
)
def test_commands_paths_and_config_files_in_plain_text_are_flagged_with_a_fix(text):
    found = [f for f in findings(with_paragraph(text)) if f.rule == "KB-OPS-001"]
    assert len(found) == 1 and found[0].fix.count("`") == 2


@pytest.mark.parametrize(
    "text",
    [
        "执行 `sudo systemctl restart cups` 重启服务。",
        "详见 [打印原理](/articles/cups-printing-principle-brand-drivers)。",
        "访问 https://www.example.com/etc/help 查看。",
    ],
)
def test_commands_in_code_links_and_urls_are_left_alone(text):
    assert "KB-OPS-001" not in rules(with_paragraph(text))


def test_long_procedure_without_figure_asks_for_one():
    steps = "\n".join(f"{i}. 第 {i} 步操作，按界面提示完成。" for i in range(1, 11))
    text = article(BODY.replace("1. 在终端", steps + "\n\n在终端", 1))
    assert "KB-OPS-002" in rules(text)
    with_figure = text.replace("## 参考资料", "![操作流程图](images/flow.png)\n\n## 参考资料")
    assert "KB-OPS-002" not in rules(with_figure)
    eight = article(BODY + "\n" + "\n".join(f"{i}. 步骤说明文字。" for i in range(1, 9)) + "\n")
    assert "KB-OPS-002" not in rules(eight)


def test_hand_numbered_steps_are_reported_once_per_run_with_a_fix():
    text = with_paragraph("1、打开设置窗口。\n\n2、选择设备页面。\n\n3、点击“应用”。")
    found = [f for f in findings(text) if f.rule == "KB-OPS-003"]
    assert len(found) == 1 and "3 个" in found[0].message and found[0].fix == "1. 打开设置窗口。"


# ---- readability ---------------------------------------------------------------------------


def test_overlong_sentence_and_paragraph_are_measured_in_chinese_characters():
    sentence = (
        "如果按照上面的方法处理以后问题依然存在并且错误记录里面也没有出现任何明显的提示信息那么很可能是设备本身出现了故障"
        * 2
        + "。"
    )
    found = [f for f in findings(with_paragraph(sentence)) if f.rule == "KB-READ-001"]
    assert len(found) == 1 and "字" in found[0].message
    paragraph = "处理完成后请做好记录，写明现象和时间。" * 12
    assert {"KB-READ-002"} <= rules(with_paragraph(paragraph))
    assert not {"KB-READ-001", "KB-READ-002"} & rules(article())


def test_unexplained_glossary_term_is_flagged_once_at_first_use():
    text = with_paragraph("升级固件前请备份数据。升级固件时不要断电。")
    found = [f for f in findings(text) if f.rule == "KB-READ-003"]
    assert len(found) == 1 and "固件" in found[0].message
    assert "固件（" in found[0].fix and "/glossary#固件" in found[0].message


@pytest.mark.parametrize(
    "text",
    [
        "升级固件（设备内置的底层程序）前请备份数据。",
        "升级[固件](/glossary#固件)前请备份数据。",
        "固件是固化在硬件芯片里的程序，升级前请备份。",
        "- **固件**：固化在硬件芯片里的程序。",
        "在统一可扩展固件接口（UEFI）中设置。",
    ],
)
def test_explained_or_linked_terms_are_left_alone(text):
    assert "KB-READ-003" not in rules(with_paragraph(text))


def test_common_terms_and_the_articles_own_products_need_no_explanation():
    assert "KB-READ-003" not in rules(with_paragraph("把 USB 线插到电脑上，在 WPS 中打开文档。"))
    text = BODY.replace("## 参考资料", "把 UKey 插到电脑上。\n\n## 参考资料")
    assert "KB-READ-003" in rules(article(text))
    assert "KB-READ-003" not in rules(article(text, products="[CA 数字证书 UKey]"))


def test_abbreviation_never_explained_is_flagged_and_explained_one_is_not():
    assert "KB-READ-004" in rules(with_paragraph("请联系网络管理员确认电脑所在的 VLAN。"))
    assert "KB-READ-004" not in rules(with_paragraph("虚拟局域网（VLAN）划分后请确认 VLAN 编号。"))
    assert "KB-READ-004" not in rules(
        with_paragraph("打印机型号为 M6202NW，界面上点击「WEB 设置」。")
    )


# ---- layout --------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["注意", "警告", "重要", "危险"])
def test_cautions_must_be_bold(word):
    found = [
        f
        for f in findings(with_paragraph(f"{word}：升级过程中不要关闭电源。"))
        if f.rule == "KB-LAYOUT-001"
    ]
    assert len(found) == 1 and found[0].fix.startswith(f"**{word}**：")
    assert "KB-LAYOUT-001" not in rules(with_paragraph(f"**{word}**：升级过程中不要关闭电源。"))
    assert "KB-LAYOUT-001" not in rules(with_paragraph(f"请{word}升级过程中不要关闭电源。"))


def test_typography_warning_comes_with_the_corrected_line():
    text = with_paragraph("完成后在WPS中重新打开文档,确认显示正常。")
    found = [f for f in findings(text) if f.rule == "KB-LAYOUT-002"]
    assert len(found) == 1 and found[0].severity == "warning"
    assert found[0].fix == "完成后在 WPS 中重新打开文档，确认显示正常。"
    assert text.split("\n")[found[0].line - 1] == "完成后在WPS中重新打开文档,确认显示正常。"


def test_typography_ignores_code_and_front_matter():
    text = article(BODY + "\n```bash\necho 中文abc,测试\n```\n", tags="[打印机, CUPS]")
    assert "KB-LAYOUT-002" not in rules(text)


# ---- privacy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule", "masked"),
    [
        ("联系人手机 13812345678。", "KB-PRIV-001", "138****5678"),
        ("联系人手机 139-7712-3456。", "KB-PRIV-001", "139-****-3456"),
        ("手机：+86 138 1234 5678。", "KB-PRIV-001", "138 **** 5678"),
        ("值班电话 0771-5561234。", "KB-PRIV-002", "0771-*****34"),
        ("机房电话（0772）2861234。", "KB-PRIV-002", "0772-*****34"),
        ("证件号 11010519491231002X。", "KB-PRIV-003", "110105********002X"),
        ("请发送到 liwei1988@163.com。", "KB-PRIV-004", "l***@163.com"),
        ("打印服务器地址 192.168.10.25。", "KB-PRIV-005", "192.168.*.*"),
        ("代理为 `172.20.1.8:8080`。", "KB-PRIV-005", "172.20.*.*"),
        ("管理员密码：Gx@2024abc。", "KB-PRIV-006", "【密码】"),
        ("`mysql -u root -pS3cret!`", "KB-PRIV-006", "【密码】"),
        ("`disql SYSDBA/Dm8Pass123@localhost:5236`", "KB-PRIV-006", "【密码】"),
        ("令牌 ghp_abcdefghijklmnopqrstuvwxyz0123456789。", "KB-PRIV-007", "【访问令牌】"),
        ("api_key = AKIAIOSFODNN7EXAMPLE1", "KB-PRIV-007", "【访问令牌】"),
        ("序列号 K7M2P-9QX4R-T8W3H-J6Y5N-B2C4D。", "KB-PRIV-008", "【激活码】"),
        ("本机授权码：A8F3K29DQ7。", "KB-PRIV-008", "【激活码】"),
    ],
)
def test_personal_and_secret_data_are_errors_with_position_and_masked_fix(text, rule, masked):
    source = with_paragraph(text)
    found = [f for f in findings(source) if f.rule == rule]
    assert len(found) == 1, findings(source)
    f = found[0]
    assert f.severity == "error"
    line = source.split("\n")[f.line - 1]
    assert line == text and f.column is not None
    assert masked in (f.fix or "") or masked in f.message


def test_private_data_inside_code_blocks_and_front_matter_is_found_too():
    code = with_paragraph(
        "```bash\nping -c 4 10.20.30.40\nexport TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n```"
    )
    assert {"KB-PRIV-005", "KB-PRIV-007"} <= rules(code)
    assert "KB-PRIV-001" in rules(article(summary="有问题请打 13812345678。"))
    key = with_paragraph(
        "```text\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n```"
    )
    assert "KB-PRIV-007" in rules(key)


@pytest.mark.parametrize(
    "text",
    [
        "服务热线 400-810-1234，或拨打 12345 政务服务热线，也可拨打 800 820 1234。",
        "示例地址写作 `192.0.2.10`，也可用 198.51.100.7；本机回环地址 127.0.0.1。",
        "私有地址范围 `192.168.0.0/16` 与 10.0.0.0/8 只是举例。",
        "请发邮件到 service@gxdata.gov.cn 或 user@example.com。",
        "密码写作【数据库密码】，即安装时设置的密码；`USERID=SYSDBA/<数据库密码>@localhost:5236`。",
        "证件号 110105194912310021 的校验位不对，不是身份证号。",
        "版本 20.1070.11068.101，标准 GB/T 38636-2020，型号 FT-2000/4，时间 2024-11-05 14:30。",
        "设备标识 `1a86:7523`，物理地址 00:1A:2B:3C:4D:5E，端口 5236，工单 GD20241105001。",
        "输入序列号 XXXXX-XXXXX-XXXXX-XXXXX-XXXXX 处填写实际序列号。",
        "执行 `find . -print` 和 `ssh -p 2222 admin@192.0.2.10` 即可。",
    ],
)
def test_hotlines_examples_placeholders_and_ordinary_numbers_are_left_alone(text):
    found = rules(with_paragraph(text))
    assert not {r for r in found if r.startswith("KB-PRIV")}, findings(with_paragraph(text))


# ---- safety --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('<script>alert("x")</script>', "KB-SAFE-001"),
        ('视频：<iframe src="https://v.example.com/1"></iframe>', "KB-SAFE-001"),
        ('<img src="a.png" onerror="alert(1)">', "KB-SAFE-002"),
        ('<a href="#" onclick="go()">打开</a>', "KB-SAFE-002"),
        ("[点击这里](javascript:alert(1))", "KB-SAFE-003"),
        ("[点击这里](JaVaScRiPt&#58;alert(1))", "KB-SAFE-003"),
        ('<a href="javascript:void(0)">打开</a>', "KB-SAFE-003"),
        ("[x]: javascript:alert(1)", "KB-SAFE-003"),
    ],
)
def test_dangerous_markup_is_an_error_the_author_sees(text, rule):
    found = [f for f in findings(with_paragraph(text)) if f.rule == rule]
    assert found and found[0].severity == "error" and found[0].line is not None


def test_other_raw_html_is_a_warning_and_markup_in_code_is_left_alone():
    found = [
        f
        for f in findings(with_paragraph("请务必<u>先备份数据</u>再继续。"))
        if f.rule == "KB-SAFE-004"
    ]
    assert len(found) == 1 and found[0].severity == "warning"
    code = with_paragraph(
        '```html\n<script>x()</script>\n<img onerror="y()">\n```\n\n行内 `<iframe>` 与 <https://example.com> 和【打印机 IP】'
    )
    assert not {r for r in rules(code) if r.startswith("KB-SAFE")}


# ---- links and media -----------------------------------------------------------------------


def test_internal_links_to_unknown_articles_are_errors_only_with_a_database():
    text = with_paragraph(
        "见 [驱动汇总](/articles/printer-driver-collection) 和 [本文](/articles/me)。"
    )
    assert "KB-LINK-001" not in rules(text)  # no known slugs: not checked
    found = [
        f for f in findings(text, known_slugs={"other"}, self_slug="me") if f.rule == "KB-LINK-001"
    ]
    assert len(found) == 1 and "printer-driver-collection" in found[0].message
    assert "KB-LINK-001" not in rules(
        text, known_slugs={"printer-driver-collection"}, self_slug="me"
    )
    assert "KB-LINK-001" in rules(with_paragraph("[坏链接](/articles/Bad_Slug)"))


def test_relative_images_must_exist(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "flow.png").write_bytes(b"\x89PNG")
    text = with_paragraph("![流程图](images/flow.png)\n\n![示意图](images/missing.png)")
    found = [f for f in findings(text, base_dir=tmp_path) if f.rule == "KB-LINK-002"]
    assert len(found) == 1 and "missing.png" in found[0].message
    assert "KB-LINK-002" not in rules(text)  # no folder known (web editor): not checked


def test_remote_images_and_file_links_are_warnings():
    assert "KB-LINK-003" in rules(with_paragraph("![图](https://img.example.com/a.png)"))
    found = [
        f for f in findings(with_paragraph("见 [字体](wps-fonts.md)。")) if f.rule == "KB-LINK-004"
    ]
    assert found and found[0].fix == "/articles/wps-fonts"


# ---- timeliness ----------------------------------------------------------------------------


def test_review_date_missing_past_or_too_far_is_a_warning_with_a_new_date():
    assert [f.rule for f in findings(article(review_by=None))] == ["KB-TIME-001"]
    past = findings(article(review_by="2025-06-30"))
    assert [f.rule for f in past] == ["KB-TIME-002"] and past[0].fix == "review_by: 2027-11-24"
    assert [f.rule for f in findings(article(review_by="2031-01-01"))] == ["KB-TIME-003"]
    assert findings(article(review_by="2028-11-01")) == []


def test_end_of_life_products_are_named():
    found = findings(article(products="[中标麒麟 V7]"))
    assert [f.rule for f in found] == ["KB-TIME-004"]
    assert "2024-12-31" in found[0].message
    assert findings(article(products="[银河麒麟V10 SP1]")) == []


# ---- duplicates ----------------------------------------------------------------------------


def test_near_duplicate_of_a_published_article_names_it():
    original = (ROOT / "articles" / "kylin-hp-m1136-offline.md").read_text(encoding="utf-8")
    body = original.split("\n---\n", 1)[1]
    sig = similarity.text_signature(body)
    published = [Published("kylin-hp-m1136-offline", "惠普 M1136 脱机", sig)]
    copy = original.replace("slug: kylin-hp-m1136-offline", "slug: my-copy").replace(
        "打印测试页验证", "验证"
    )
    found = [
        f
        for f in findings(copy, published=published, self_slug="my-copy")
        if f.rule == "KB-DUP-001"
    ]
    assert (
        len(found) == 1
        and "《惠普 M1136 脱机》" in found[0].message
        and found[0].severity == "warning"
    )
    # the article itself, and an unrelated one, are not duplicates
    assert "KB-DUP-001" not in rules(
        original, published=published, self_slug="kylin-hp-m1136-offline"
    )
    assert "KB-DUP-001" not in rules(article(), published=published)


def test_similarity_estimate_is_sane():
    a = similarity.signature("我们 今天 去 公园 散步 然后 回家 吃饭".split())
    assert similarity.similarity(a, a) == 1.0
    b = similarity.signature("完全 不同 的 一些 词语 组成 的 句子 内容".split())
    assert similarity.similarity(a, b) < 0.2


# ---- configuration and glossary ------------------------------------------------------------


def test_thresholds_are_configuration():
    strict = Thresholds.from_mapping({"sentence_max_chars": 10})
    assert "KB-READ-001" in rules(article(), thresholds=strict)
    with pytest.raises(ValueError):
        Thresholds.from_mapping({"no_such_threshold": 1})
    with pytest.raises(ValueError):
        Thresholds.from_mapping({"sentence_max_chars": "many"})


def test_glossary_validation_names_each_problem_in_chinese():
    with pytest.raises(GlossaryInvalid) as err:
        parse(
            "- term: 固件\n  explanation: 底层程序。\n- term: 固件\n  explanation: 重复。\n- aliases: [x]\n"
        )
    problems = "；".join(err.value.problems)
    assert "重复" in problems and "缺少术语" in problems
    with pytest.raises(GlossaryInvalid):
        parse("- term: [\n")
    assert len(parse("- term: 网闸\n  explanation: 隔离两个网络并摆渡数据的设备。\n")) == 1


def test_a_custom_glossary_changes_what_is_jargon():
    custom = parse("- term: 网闸\n  explanation: 隔离两个网络并摆渡数据的设备。\n")
    text = with_paragraph("数据需经网闸传到内网。")
    assert "KB-READ-003" in rules(text, glossary=custom)
    assert "KB-READ-003" not in rules(with_paragraph("升级固件前请备份。"), glossary=custom)
