"""KB-OPS: commands and paths in code, figures for long procedures, steps numbered."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kb.checker.context import CheckContext
from kb.checker.document import Document, Line
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding

COMMANDS = (
    "sudo su apt apt-get yum dnf dpkg rpm systemctl service journalctl chmod chown chgrp mount "
    "umount lpstat lpadmin lpinfo lpoptions cupsenable cupsaccept cupsdisable cancel xrandr grep "
    "cat ls cd cp mv rm mkdir tar unzip wget curl ssh scp ping ifconfig nmcli firewall-cmd "
    "iptables dmesg lsusb lspci lsblk uname fc-list fc-cache ps kill pkill export echo vi vim "
    "nano gedit pkexec passwd reboot shutdown update-grub grub-mkconfig grub2-mkconfig modprobe "
    "lsmod insmod rmmod timedatectl hwclock ntpdate chronyc smbclient xdg-mime xdg-settings "
    "hp-setup hp-plugin hp-check scanimage sane-find-scanner java jstat jmap jstack disql ksql "
    "dexp dimp dminit sys_dump sys_restore nc telnet netstat ss lsof tail head less find "
    "update-alternatives gsettings dconf fcitx-config-gtk3 pcsc_scan udevadm openssl certutil "
    "setenforce getenforce alternatives pip python3 bash sh"
).split()
# a known command followed by an option or an argument written in ASCII
_COMMAND = re.compile(
    r"(?<![A-Za-z0-9_/.\-])(?:"
    + "|".join(re.escape(c) for c in sorted(COMMANDS, key=len, reverse=True))
    + r")(?: {1,3}(?:-{1,2}[A-Za-z][\w-]{0,40}|[a-z0-9/~.$][\w./~$:=-]{0,80}))+"
)
_PATH = re.compile(
    r"(?<![A-Za-z0-9_.~:/\-])(?:"
    r"/(?:etc|usr|var|opt|home|root|tmp|dev|proc|sys|boot|lib|lib64|bin|sbin|mnt|media|run|srv)"
    r"(?:/[\w.@+\-]{1,100}){0,30}/?"
    r"|~/[\w.\-]{1,100}(?:/[\w.@+\-]{1,100}){0,30}"
    r"|[A-Za-z]:\\[\w.\\ \-]{1,200})"
)
_CONFIG_FILE = re.compile(
    r"(?<![A-Za-z0-9_.\-/])[\w\-]{1,60}\.(?:conf|ini|cfg|service|desktop|rules|repo|list|par|properties|vmoptions)(?![\w.])"
)
_MANUAL_STEP = re.compile(
    r"\s*(?:(\d{1,2})[、，]|[(（](\d{1,2})[)）]|第[一二三四五六七八九十\d]{1,3}步[：:，,]?|步骤[一二三四五六七八九十\d]{1,3}[：:、])"
)
_STEP_HEADING = re.compile(r"步骤|流程|操作方法|解决方法|处理方法|配置方法|设置方法")
_DEFINITION_ITEM = re.compile(r"\s*\*\*[^*\n]{1,40}\*\*\s*[:：]")
_REFERENCE_HEADING = re.compile(r"参考|相关链接|延伸阅读|附录")
_FIGURE_FENCE = re.compile(
    r"\s*(?:`{3,}|~{3,})\s*(?:mermaid|flowchart|plantuml|dot|graphviz)", re.I
)


@rule("KB-OPS-001", "warning", "命令、路径或配置文件未放入代码格式")
def commands_in_code(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    skip = False
    for ln in doc.prose_lines():
        if ln.kind == "heading":
            if ln.level <= 2:
                skip = bool(_REFERENCE_HEADING.search(ln.content))
            continue
        if skip:
            continue
        text = ln.prose
        m = _COMMAND.search(text) or _PATH.search(text) or _CONFIG_FILE.search(text)
        if m is None:
            continue
        found = m.group().rstrip(".,;:")
        end = m.start() + len(found)
        what = (
            "路径"
            if found.startswith(("/", "~")) or ":\\" in found
            else ("配置文件名" if m.re is _CONFIG_FILE else "命令")
        )
        yield r.at(
            f"{what}“{found[:60]}”写在了普通文字中。命令、路径和配置项请用行内代码（`…`）或代码块标出，"
            "读者才能准确复制，也不会被排版改动。",
            ln.no,
            m.start() + 1,
            fix=ln.raw[: m.start()] + "`" + ln.raw[m.start() : end] + "`" + ln.raw[end:],
        )


def _procedures(doc: Document) -> list[list[Line]]:
    """Ordered lists, each as its top-level items (continuation text and code stay inside)."""
    lists: list[list[Line]] = []
    current: list[Line] | None = None
    indent = 0
    for ln in doc.body_lines:
        if ln.kind == "item" and ln.ordered:
            if current is None or ln.level < indent:
                current, indent = [], ln.level
                lists.append(current)
            if ln.level == indent:
                current.append(ln)
            continue
        if ln.kind in ("blank", "code") or (ln.kind == "item" and current is not None):
            continue
        if ln.kind in ("text", "quote", "table") and ln.raw[:1] in (" ", "\t"):
            continue  # indented continuation of an item
        current = None
    return lists


def _has_figure(doc: Document) -> bool:
    if any(link.image for link in doc.links):
        return True
    return any(_FIGURE_FENCE.match(ln.raw) for ln in doc.body_lines if ln.kind == "code")


@rule("KB-OPS-002", "warning", "步骤较多但没有流程图或示意图")
def long_procedure_figure(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    limit = ctx.thresholds.long_procedure_steps
    if _has_figure(doc):
        return
    for items in _procedures(doc):
        if len(items) > limit:
            yield r.at(
                f"这段操作有 {len(items)} 步（超过 {limit} 步），但文中没有流程图或示意图。"
                "请附一张流程图或关键界面的示意图（如 ![操作流程图](图片路径)），"
                "帮助读者把握整体步骤。",
                items[0].no,
                1,
            )


@rule("KB-OPS-003", "warning", "步骤没有编号")
def unnumbered_steps(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    # steps numbered by hand ("1、", "（1）", "第一步"): one finding per run of them
    run: list[tuple[Line, str | None, str]] = []
    for ln in [*doc.body_lines, None]:
        m = None
        if ln is not None and ln.kind in ("text", "item"):
            m = _MANUAL_STEP.match(ln.content)
        if m is not None and ln is not None:
            run.append((ln, m.group(1) or m.group(2), ln.content[m.end() :].lstrip()))
            continue
        if (ln is not None and ln.kind in ("blank", "code")) or (
            ln is not None and ln.raw[:1] in " \t"
        ):
            continue  # code and indented text between hand-numbered steps keep the run going
        if run:
            first, number, rest = run[0]
            yield r.at(
                f"这里有 {len(run)} 个手写编号的步骤（如“1、”“（1）”“第一步”），"
                "不会显示为编号列表。"
                "请改为 Markdown 编号列表：行首写“1. ”“2. ”，步骤间的命令缩进放在该步之下。",
                first.no,
                first.content_col + 1,
                fix=f"{number}. {rest}" if number else None,
            )
            run = []
    if doc.type not in ("故障处理", "操作指南", "疑难问题"):
        return
    for section in doc.sections:
        if section.heading is None or not _STEP_HEADING.search(section.title):
            continue
        ordered = any(ln.kind == "item" and ln.ordered for ln in section.lines)
        bullets = [
            ln
            for ln in section.lines
            if ln.kind == "item"
            and not ln.ordered
            and ln.level == 0
            and not _DEFINITION_ITEM.match(ln.content)
        ]
        if not ordered and len(bullets) >= 2:
            yield r.at(
                f"“{section.title}”中的 {len(bullets)} 个步骤用的是无序列表（- 开头）。"
                "步骤有先后顺序，请改为编号列表（1. 2. 3.）。",
                bullets[0].no,
                1,
                fix="1. " + bullets[0].raw.lstrip()[1:].lstrip(),
            )
