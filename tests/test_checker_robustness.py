"""Any input gets findings (or one clear error) within two seconds, and no pattern backtracks
catastrophically: the slowest inputs we could construct for each pattern, just under the
size limit, are checked against the clock."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from kb.checker import CheckContext, Published, check, check_file, similarity

FM = (
    "---\ntitle: 测试\ntype: 故障处理\ncategory: 打印与扫描\nproducts: [x]\nsummary: s\n"
    "visibility: public\nreview_by: 2027-01-01\n---\n"
)
N = 195_000  # just under the 200 000-character limit, where every rule runs
BUDGET = 2.0

ADVERSARIAL = {
    "one-long-cjk-line": FM + "中文abc" * (N // 5 - 40),
    "one-long-ascii-line": FM + "a " * (N // 2 - 100),
    "open-brackets": FM + "[" * (N - 200),
    "unclosed-links": FM + "[a](b" * (N // 5 - 40),
    "backticks": FM + "`` ` " * (N // 5 - 40),
    "unclosed-tags": FM + "<a " * (N // 3 - 100),
    "digits": FM + "1" * (N - 200),
    "phone-like": FM + "138-" * (N // 4 - 50),
    "dotted-numbers": FM + "10." * (N // 3 - 100),
    "at-signs": FM + "a@" * (N // 2 - 100),
    "dots-then-at": FM + "a." * (N // 2 - 100) + "@",
    "email-local-parts": FM + ("x" * 60 + "@") * (N // 61 - 10),
    "password-keys": FM + "password=" * (N // 9 - 20),
    "chinese-password-keys": FM + "密码：" * (N // 3 - 100),
    "user-slash": FM + "a/" * (N // 2 - 100) + "@",
    "hashes": FM + "#" * (N - 200),
    "stars": FM + "*" * (N - 200),
    "spaces": FM + " " * (N - 200) + "x",
    "many-short-lines": FM + "a\n" * (N // 2 - 100),
    "blank-tab-lines": FM + "\t\n" * (N // 2 - 100),
    "nested-lists-by-indent": FM + "\n".join(" " * (i % 80) + "- 项" for i in range(4_000)),
    "ordered-steps": FM
    + "\n".join(f"{i}. 执行 sudo apt install x 修改 /etc/hosts" for i in range(4_000)),
    "headings": FM + "\n".join("#" * (i % 7 + 1) + " 标题" for i in range(23_000)),
    "glossary-terms": FM + "固件内核驱动BIOS UEFI " * (N // 20),
    "abbreviations": FM + "AB CD EF " * (N // 9 - 20),
    "caps-then-paren": FM + "ABC（" * (N // 4 - 50),
    "fences": FM + "```\n" * (N // 4 - 50),
    "urls": FM + "http://a " * (N // 9 - 20),
    "script-tags": FM + "<script onload=x>" * (N // 17 - 20),
    "licence-like": FM + "ABCD1-" * (N // 6 - 20),
    "open-parens": FM + "（" * (N - 200),
    "bearer": FM + "Bearer " * (N // 7 - 20),
    "commands": FM + "sudo -a " * (N // 8 - 20),
    "paths": FM + "/etc/a" * (N // 6 - 20),
    "windows-paths": FM + "C:\\a " * (N // 5 - 20),
    "quotes": FM + ">" * (N - 200) + " x",
}

HUGE = {
    "empty": "",
    "binary": bytes(range(256)).decode("latin-1") * 100,
    "replacement-characters": b"\xff\xfe\x00abc\xc3\x28".decode("utf-8", "replace") * 1000,
    "five-megabytes": "中文测试句子，包含English和123。\n" * 180_000,
    "ten-thousand-nested-list-levels": "\n".join(" " * i + "- x" for i in range(10_000)),
    "ten-thousand-nested-lists-on-one-line": "- " * 10_000 + "x",
    "million-character-line": "a" * 1_000_000,
}


def timed(text: str, **ctx: object):  # type: ignore[no-untyped-def]
    # CPU time of this process: catastrophic backtracking shows in it just as well, and other
    # work on the machine (a parallel CI job) does not make the bound flaky
    started = time.process_time()
    report = check(text, CheckContext(today=date(2026, 11, 24), **ctx))  # type: ignore[arg-type]
    return report, time.process_time() - started


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_slowest_inputs_per_pattern_finish_in_time(name):
    report, elapsed = timed(ADVERSARIAL[name])
    assert elapsed < BUDGET, f"{name}: {elapsed:.2f} s"
    # every finding is well formed, and one rule cannot flood the report
    assert len(report.findings) <= 40 * 31
    for f in report.findings:
        assert f.severity in ("error", "warning", "hint") and f.message


@pytest.mark.parametrize("name", sorted(HUGE))
def test_any_input_gets_findings_in_time(name):
    report, elapsed = timed(HUGE[name])
    assert elapsed < BUDGET, f"{name}: {elapsed:.2f} s"
    assert report.findings  # none of these is a valid article


def test_oversized_input_is_one_clear_error():
    report, _ = timed(HUGE["five-megabytes"])
    assert [f.rule for f in report.findings] == ["KB-STRUCT-010"]
    assert "过大" in report.findings[0].message and report.has_errors


def test_binary_input_is_named_as_such():
    report, _ = timed(HUGE["binary"])
    assert "KB-STRUCT-012" in {f.rule for f in report.errors}


def test_bad_utf8_file_is_one_clear_error(tmp_path: Path):
    path = tmp_path / "bad.md"
    path.write_bytes(b"---\ntitle: \xff\xfe\n---\n")
    report = check_file(path)
    assert [f.rule for f in report.findings] == ["KB-STRUCT-011"]
    assert "UTF-8" in report.findings[0].message


def test_duplicate_rule_on_a_large_input_stays_in_time():
    published = [
        Published(f"a{i}", f"文章{i}", similarity.text_signature(f"打印机 脱机 处理 {i} " * 50))
        for i in range(200)
    ]
    _, elapsed = timed(
        FM + "打印机脱机时重新添加打印机，然后打印测试页。\n" * 5000, published=published
    )
    assert elapsed < BUDGET


def test_a_crashing_rule_does_not_hide_the_others(monkeypatch):
    from kb.checker.registry import RULES

    rule = RULES["KB-READ-001"]

    def broken(*_args):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug")

    monkeypatch.setitem(
        RULES, "KB-READ-001", type(rule)(rule.id, rule.severity, rule.title, broken)
    )
    report, _ = timed(FM + "手机 13812345678\n")
    found = {f.rule for f in report.findings}
    assert "KB-PRIV-001" in found and "KB-STRUCT-099" in found
