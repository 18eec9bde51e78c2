"""Build the external relevance corpus: real Chinese help pages nobody on this project wrote.

    .venv/bin/python bench/relevance/external/build_corpus.py [--out DIR] [--no-install]

Eight Debian packages are installed with apt-get when missing (root only; otherwise the script
says which to install) and converted into kb Markdown articles, one section an article:

- kicad-doc-zh          KiCad manuals (Asciidoctor, one big page per manual)
- lilypond-doc-html-zh  LilyPond learning manual and web pages (Texinfo, one node a page)
- debian-edu-doc-zh-cn  Debian Edu bookworm manual (DocBook, one big page; the bullseye
                        manual is a near-copy and is left out)
- maint-guide-zh-cn     Debian New Maintainers' Guide (DocBook, one chapter a page)
- gimp-help-zh-cn       GIMP 2.10 help (DocBook, one section a page; much is still English)
- debian-edu-doc-legacy-zh-cn  Debian Edu ITIL, Audacity and Rosegarden manuals (DocBook, one
                        big page each; not a copy of the bookworm manual)
- installation-guide-amd64     Debian 12 installation guide, zh_CN pages only (DocBook chunks)
- debmake-doc           Guide for Debian Maintainers, zh-cn pages only (DocBook, one chapter a page)

A section is the text from a heading to the next heading of the same or a higher level, up to
a per-package depth; deeper headings stay inside as ``##`` sub-headings. Only sections with
real Chinese text are kept (at least MIN_HAN Han characters outside code, and Han characters
at least HAN_SHARE of Han + Latin "words"). Titles are the real section headings; the summary
is the breadcrumb (manual › chapter › section). Slugs are derived from package + file + the
section's anchor (or heading text), so judgments stay valid across rebuilds.

Never used here (kept for an independent acceptance check): libreoffice-help-zh-*,
manpages-zh, debian-faq-zh-*, debian-reference-zh-*.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUT = ROOT / "bench" / "out" / "external-corpus"
MIN_HAN = 30
HAN_SHARE = 0.5
FORBIDDEN = ("libreoffice-help-zh", "manpages-zh", "debian-faq-zh", "debian-reference-zh")


@dataclass(frozen=True)
class Source:
    package: str
    short: str  # slug prefix
    product: str
    category: str
    files: tuple[str, ...]  # glob patterns
    split_depth: int  # headings h1..h<split_depth> start a new article
    skip_ids: tuple[str, ...] = ()
    skip_classes: tuple[str, ...] = ()


DOCBOOK_SKIP = ("navheader", "navfooter", "toc", "breadcrumbs", "list-of-figures", "list-of-tables")

SOURCES = (
    Source(
        "kicad-doc-zh",
        "kicad",
        "KiCad",
        "办公软件",
        ("/usr/share/doc/kicad/help/zh/*.html",),
        5,
        skip_ids=("toc", "footer"),
    ),
    Source(
        "lilypond-doc-html-zh",
        "lily",
        "LilyPond",
        "办公软件",
        (
            "/usr/share/doc/lilypond/html/Documentation/learning/*.zh.html",
            "/usr/share/doc/lilypond/html/Documentation/web/*.zh.html",
        ),
        3,
        skip_ids=("tocframe", "footer", "highlighting-settings", "languages"),
        skip_classes=("nav_table", "toc_header", "contents", "menu"),
    ),
    Source(
        "debian-edu-doc-zh-cn",
        "edu",
        "Debian Edu",
        "桌面操作系统",
        ("/usr/share/doc/debian-edu-doc-zh-cn/debian-edu-bookworm-manual.html",),
        6,
        skip_classes=DOCBOOK_SKIP,
    ),
    Source(
        "maint-guide-zh-cn",
        "maint",
        "Debian",
        "桌面操作系统",
        ("/usr/share/doc/maint-guide-zh-cn/html/*.zh-cn.html",),
        3,
        skip_classes=DOCBOOK_SKIP,
    ),
    Source(
        "gimp-help-zh-cn",
        "gimp",
        "GIMP",
        "办公软件",
        ("/usr/share/gimp/2.0/help/zh_CN/*.html",),
        3,
        skip_classes=(*DOCBOOK_SKIP, "titlepage-extra"),
    ),
    # Added later (the five above hold no more real Chinese); appended so that the de-duplication
    # order, and with it every earlier slug, stays the same. linuxcnc-doc-zh-cn was checked and
    # left out: its "zh_CN" PDFs and G-code page contain no Chinese at all.
    Source(
        "debian-edu-doc-legacy-zh-cn",
        "edulegacy",
        "Debian Edu",
        "桌面操作系统",
        ("/usr/share/doc/debian-edu-doc-legacy-zh-cn/*-manual.html",),
        6,
        skip_classes=DOCBOOK_SKIP,
    ),
    Source(
        "installation-guide-amd64",
        "install",
        "Debian",
        "桌面操作系统",
        ("/usr/share/doc/installation-guide-amd64/zh_CN/*.html",),
        4,
        skip_classes=DOCBOOK_SKIP,
    ),
    Source(
        "debmake-doc",
        "debmake",
        "Debian",
        "桌面操作系统",
        ("/usr/share/doc/debmake-doc/html/*.zh-cn.html",),
        3,
        skip_classes=DOCBOOK_SKIP,
    ),
)

BLOCK = {
    "p", "div", "li", "dt", "dd", "tr", "br", "blockquote", "table", "ul", "ol", "dl",
    "section", "article", "caption", "figcaption", "hr", "center",
}  # fmt: skip
VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
HEADING = re.compile(r"h([1-6])$")


@dataclass
class Block:
    kind: str  # "h", "p", "li", "pre"
    text: str
    level: int = 0
    anchor: str = ""


class Extractor(HTMLParser):
    """HTML page → flat list of headings, paragraphs, list items and code blocks."""

    def __init__(self, source: Source) -> None:
        super().__init__(convert_charrefs=True)
        self.src = source
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.skip_tag: str | None = None
        self.skip_depth = 0
        self.in_head = False
        self.head_level = 0
        self.head_anchor = ""
        self.pre = 0
        self.in_li = False
        self.last_anchor = ""
        self.body = False

    def _skipping(self, tag: str, attrs: dict[str, str]) -> bool:
        ids = attrs.get("id", "")
        classes = set(attrs.get("class", "").split())
        return ids in self.src.skip_ids or bool(classes & set(self.src.skip_classes))

    def flush(self, kind: str = "p") -> None:
        text = "".join(self.buf)
        self.buf = []
        if kind == "pre":
            text = text.strip("\n")
            if text.strip():
                self.blocks.append(Block("pre", text))
            return
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            self.blocks.append(Block("li" if self.in_li else "p", text))

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if self.skip_tag is None and tag in ("script", "style", "head"):
            self.skip_tag, self.skip_depth = tag, 1
            return
        if self.skip_tag is not None:
            if tag == self.skip_tag and tag not in VOID:
                self.skip_depth += 1
            return
        if tag not in VOID and self._skipping(tag, attrs):
            self.skip_tag, self.skip_depth = tag, 1
            return
        if tag == "a" and attrs.get("name"):
            self.last_anchor = attrs["name"]
        if attrs.get("id"):
            self.last_anchor = attrs["id"]
        m = HEADING.match(tag)
        if m:
            self.flush()
            self.in_head = True
            self.head_level = int(m.group(1))
            self.head_anchor = attrs.get("id") or self.last_anchor
            return
        if tag == "pre":
            self.flush()
            self.pre += 1
            return
        if tag in ("td", "th"):
            self.buf.append(" ")
            return
        if tag in BLOCK and not self.pre:
            self.flush()
            if tag == "li":
                self.in_li = True
            if tag == "br" and self.in_head:
                self.buf.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        m = HEADING.match(tag)
        if m and self.in_head:
            text = re.sub(r"\s+", " ", "".join(self.buf)).strip()
            self.buf = []
            self.in_head = False
            if text:
                self.blocks.append(Block("h", text, self.head_level, self.head_anchor))
            return
        if tag == "pre" and self.pre:
            self.pre -= 1
            if not self.pre:
                self.flush("pre")
            return
        if tag in BLOCK and not self.pre and not self.in_head:
            self.flush()
            if tag in ("li", "ul", "ol"):
                self.in_li = False

    def handle_data(self, data: str) -> None:
        if self.skip_tag is None:
            self.buf.append(data)

    def close(self) -> None:
        super().close()
        self.flush()


HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]+")


def han_stats(text: str) -> tuple[int, float]:
    han = len(HAN.findall(text))
    words = len(LATIN_WORD.findall(text))
    return han, han / (han + words) if han + words else 0.0


def clean_heading(text: str) -> str:
    # numbering such as "3.1.5", "第 2 章", "2.1." stays out of the title
    text = re.sub(r"^(第\s*\d+\s*[章节]\s*|附录\s*[A-Z]\.\s*|[A-Z]\.(\d+\.)*\s+)", "", text)
    # "8.1.4. 使用模式", "3.1.5 Adding text" lose their numbers; "2.0 版" keeps its version
    text = re.sub(r"^(\d+(\.\d+)*\.|\d+(\.\d+){2,})\s+", "", text).strip()
    return text.replace("¶", "").strip()


def md_text(text: str) -> str:
    """Plain text made safe for Markdown: tags-looking text in code, no raw HTML."""
    text = re.sub(r"<[^<>\n]{1,80}>", lambda m: f"`{m.group(0)}`", text)
    text = text.replace("<", "&lt;")
    if re.match(r"^(#|>|\d+\.\s|[-*+]\s)", text):
        text = "\\" + text
    return text


@dataclass
class Section:
    source: Source
    path: str
    doc_title: str
    trail: list[str]
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)


def sections_of(source: Source, path: Path) -> list[Section]:
    ex = Extractor(source)
    ex.feed(path.read_text(encoding="utf-8", errors="replace"))
    ex.close()
    blocks = ex.blocks
    doc_title = next((b.text for b in blocks if b.kind == "h"), path.stem)
    out: list[Section] = []
    stack: list[tuple[int, str]] = []  # open headings (level, text) above the current section
    current: Section | None = None
    seen: dict[str, int] = {}
    for b in blocks:
        if b.kind == "h" and b.level <= source.split_depth:
            title = clean_heading(b.text)
            while stack and stack[-1][0] >= b.level:
                stack.pop()
            trail = [t for _, t in stack]
            stack.append((b.level, title))
            key = b.anchor or title
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key = f"{key}#{seen[key]}"
            rel = str(path).split("/help/", 1)[-1] if "gimp" in str(path) else path.name
            current = Section(source, rel, doc_title, trail, title, key)
            out.append(current)
        elif current is not None:
            current.blocks.append(b)
    return out


def slug_for(sec: Section) -> str:
    stem = re.sub(r"\.(zh|zh-cn)?\.?html$", "", Path(sec.path).name)
    stem = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:28].strip("-")
    digest = hashlib.sha1(f"{sec.source.package}|{sec.path}|{sec.anchor}".encode()).hexdigest()
    return f"{sec.source.short}-{stem}-{digest[:8]}" if stem else f"{sec.source.short}-{digest[:8]}"


def render(sec: Section, slug: str, review_by: date) -> tuple[str, str]:
    """(markdown file text, plain prose used for the Han filter)."""
    lines: list[str] = []
    prose: list[str] = []
    for b in sec.blocks:
        if b.kind == "h":
            lines.append(f"## {md_text(clean_heading(b.text))}")
            prose.append(b.text)
        elif b.kind == "pre":
            fence = "~~~~" if "```" in b.text else "```"
            lines.append(f"{fence}\n{b.text}\n{fence}")
        elif b.kind == "li":
            lines.append(f"- {md_text(b.text)}")
            prose.append(b.text)
        else:
            lines.append(md_text(b.text))
            prose.append(b.text)
    body = "\n\n".join(lines)
    if not body.lstrip().startswith("## "):
        body = f"## {md_text(sec.title)}\n\n{body}"
    crumbs = [c for c in [sec.doc_title, *sec.trail] if c and c != sec.title]
    summary = " › ".join([*crumbs, sec.title])[:480]
    meta = {
        "title": sec.title[:200],
        "slug": slug,
        "type": "操作指南",
        "category": sec.source.category,
        "products": [sec.source.product],
        "os": [],
        "tags": [],
        "summary": summary,
        "visibility": "public",
        "allowed_orgs": [],
        "review_by": review_by.isoformat(),
        "enterprise": "demo",
    }
    head = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items())
    return f"---\n{head}\n---\n\n{body}\n", " ".join([sec.title, *prose])


def ensure_packages(install: bool) -> None:
    missing = []
    for src in SOURCES:
        ok = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", src.package], capture_output=True, text=True
        )
        if "install ok installed" not in ok.stdout:
            missing.append(src.package)
    if not missing:
        return
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            "missing packages (install them as root): apt-get install " + " ".join(missing)
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("installing", " ".join(missing), flush=True)
    subprocess.run(["apt-get", "update", "-q"], check=False, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )


def build(out: Path, install: bool = True) -> dict[str, int]:
    """Write the corpus into ``out`` (replacing it); returns articles per package."""
    import glob

    ensure_packages(install)
    review_by = date.today() + timedelta(days=365)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    counts: dict[str, int] = {}
    dropped: dict[str, int] = {}
    index = []
    bodies: set[str] = set()
    for src in SOURCES:
        assert not any(f in src.package for f in FORBIDDEN)
        files = sorted({p for pat in src.files for p in glob.glob(pat)})
        if not files:
            raise SystemExit(f"{src.package}: no files found under {src.files}")
        for f in files:
            for sec in sections_of(src, Path(f)):
                slug = slug_for(sec)
                text, prose = render(sec, slug, review_by)
                han, share = han_stats(prose)
                # identical boilerplate (LilyPond's "开始阅读" box on every web page) counts once;
                # GIMP's alphabetical index is a list of links, not a section
                digest = hashlib.sha1(text.split("\n---\n", 1)[1].encode()).hexdigest()
                if (
                    han < MIN_HAN
                    or share < HAN_SHARE
                    or digest in bodies
                    or "help-index" in sec.path
                ):
                    dropped[src.package] = dropped.get(src.package, 0) + 1
                    continue
                bodies.add(digest)
                target = out / f"{slug}.md"
                if target.exists():
                    raise SystemExit(f"slug collision: {slug} ({sec.path} {sec.anchor})")
                target.write_text(text, encoding="utf-8")
                counts[src.package] = counts.get(src.package, 0) + 1
                index.append(
                    {
                        "slug": slug,
                        "package": src.package,
                        "file": sec.path,
                        "anchor": sec.anchor,
                        "title": sec.title,
                        "han": han,
                    }
                )
    (out.parent / "external-corpus.json").write_text(
        json.dumps({"counts": counts, "dropped": dropped, "articles": index}, ensure_ascii=False),
        encoding="utf-8",
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-install", action="store_true", help="never call apt-get")
    args = parser.parse_args(argv)
    counts = build(args.out, install=not args.no_install)
    for pkg, n in counts.items():
        print(f"  {pkg:<24}{n:>6}")
    print(f"  {'total':<24}{sum(counts.values()):>6} articles in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
