"""Benchmark corpora: the sample articles of ``articles/`` plus generated variants.

A variant takes one sample article, swaps its product, model and OS names for others of the same
category, recombines its real paragraphs with paragraphs of other samples (same category first,
same section heading where one exists), trims it to about 1,400 characters of Markdown (~750
of them Han characters) and gives it its own
visibility, owner, date and helpful votes — so no two documents are the same text, while every
sentence is real help text.

Rows are written straight into the ``article`` and ``revision`` tables in bulk (the database is not
what is measured), streamed in batches, so a 100k corpus never sits in memory.

Also here: a fresh data folder and app for a benchmark, and the organisations and users it needs.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "articles"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORGS = (
    ("bureau", "广西壮族自治区数据局（基准）", "bureau"),
    ("demo", "示例信创服务有限公司", "enterprise"),
    ("ent-guike", "桂科信创技术有限公司", "enterprise"),
    ("ent-bagui", "八桂数字服务有限公司", "enterprise"),
    ("ent-nanning", "南宁信创运维有限公司", "enterprise"),
    ("ent-liuzhou", "柳州智联信息技术有限公司", "enterprise"),
    ("ent-guilin", "桂林云维科技有限公司", "enterprise"),
    ("demo-unit", "示例市政务服务中心", "unit"),
    ("unit-finance", "某市财政局", "unit"),
    ("unit-health", "某市卫生健康委员会", "unit"),
)
ENTERPRISES = [code for code, _name, kind in ORGS if kind == "enterprise"]
UNITS = [code for code, _name, kind in ORGS if kind == "unit"]
USERS = (("curator", "curator", "bureau"), ("reader", "reader", "demo-unit"))

OS_POOL = [
    "银河麒麟桌面操作系统 V10 SP1",
    "银河麒麟桌面操作系统 V10 SP1 2303",
    "银河麒麟桌面操作系统 V10 SP1 2403",
    "银河麒麟高级服务器操作系统 V10 SP3",
    "统信 UOS 20 专业版",
    "统信 UOS 桌面专业版 1060",
    "统信 UOS 桌面专业版 1070",
    "统信 UOS 服务器版 V20 1060e",
    "中标麒麟桌面操作系统 7.0",
    "openKylin 2.0",
    "deepin 23",
    "openEuler 22.03 LTS",
]
PRODUCTS: dict[str, list[str]] = {
    "打印与扫描": [
        "惠普 LaserJet Pro M1136 MFP",
        "惠普 LaserJet M1005",
        "惠普 LaserJet Pro M203dn",
        "奔图 M6202NW",
        "奔图 P3301DN",
        "奔图 M7160DW",
        "奔图 CM7115DN",
        "联想 LJ2405D",
        "联想 M7400 Pro",
        "联想 GM265DN",
        "立思辰 GA7330cdn",
        "立思辰 GA3032dn",
        "得力 P2500DNW",
        "震旦 AD289s",
        "佳能 iR2206N",
        "兄弟 DCP-7080D",
        "爱普生 L3158",
        "富士施乐 S2110",
        "汉王 HW-9120 扫描仪",
        "中晶 FileScan 3100 扫描仪",
        "紫光 Uniscan F25A 扫描仪",
    ],
    "桌面操作系统": OS_POOL,
    "处理器与固件": [
        "飞腾 FT-2000/4",
        "飞腾 D2000",
        "飞腾 D3000",
        "龙芯 3A5000",
        "龙芯 3A6000",
        "鲲鹏 920",
        "海光 3250",
        "海光 C86-3G",
        "兆芯 KX-6640MA",
        "兆芯 KX-U6780A",
        "申威 1621",
        "昆仑固件 V4.0",
        "百敖固件 ByoCore",
        "长城 UF712 主机",
        "联想开天 M740J",
    ],
    "数据库": [
        "达梦 DM8",
        "达梦 DM7",
        "人大金仓 KingbaseES V8",
        "人大金仓 KingbaseES V9",
        "神通数据库 7.0",
        "南大通用 GBase 8s",
        "瀚高 HighGo DB 6.0",
        "OceanBase 4.2",
        "openGauss 5.0",
        "优炫 UXDB 2.1",
    ],
    "中间件": [
        "东方通 TongWeb 7",
        "东方通 TongWeb 8",
        "金蝶 Apusic AAS 10",
        "宝兰德 BES 9.5",
        "中创 InforSuite AS 10",
        "普元 Primeton AppServer 7",
        "东方通 TongLINK/Q 8",
    ],
    "浏览器与插件": [
        "奇安信可信浏览器 V2",
        "360 安全浏览器信创版",
        "红莲花安全浏览器",
        "统信浏览器",
        "火狐浏览器 ESR",
        "龙芯浏览器",
        "数科签章控件 3.0",
        "点聚 WebSign 控件",
    ],
    "办公软件": [
        "WPS Office 2019 for Linux",
        "WPS Office 专业版 11.8",
        "WPS Office 信创版 12.8",
        "永中 Office 2019",
        "数科 OFD 阅读器",
        "福昕 OFD 版式办公套件",
        "书生 OFD 阅读器",
    ],
    "安全与政务客户端": [
        "飞天诚信 ePass3003",
        "龙脉 mToken GM3000",
        "海泰方圆 HaiKey",
        "格尔 UKey SJK1926",
        "数字认证 CA 证书助手",
        "深信服 aTrust",
        "深信服 EasyConnect",
        "奇安信 VPN 客户端",
        "政务 OA 客户端 5.0",
    ],
    "外部设备": [
        "良田 S1800 高拍仪",
        "汉王 E1190 高拍仪",
        "华视 CVR-100UC 身份证阅读器",
        "精伦 iDR210 身份证阅读器",
        "金士顿 DataTraveler U 盘",
        "希捷 Backup Plus 移动硬盘",
        "明基 MX560 投影仪",
        "爱普生 CB-X06 投影仪",
        "飞利浦 242E1 显示器",
    ],
}
TITLE_TAILS = [
    "",
    "",
    "",
    "（现场案例）",
    "（补充说明）",
    "：处理经验",
    "（运维记录）",
    "——单位报障整理",
    "（更新版）",
]
TARGET_CHARS = 1180  # whole blocks overshoot it: bodies come out at ~1,400 characters of Markdown


@dataclass
class Section:
    heading: str
    blocks: list[str]


@dataclass
class Sample:
    slug: str
    draft: Any  # kb.frontmatter.ArticleDraft
    sections: list[Section] = field(default_factory=list)
    intro: list[str] = field(default_factory=list)


def _blocks(text: str) -> list[str]:
    """Paragraph blocks separated by blank lines, keeping fenced code blocks in one piece."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def load_samples() -> list[Sample]:
    from kb import frontmatter

    samples: list[Sample] = []
    for path in sorted(ARTICLES.glob("*.md")):
        draft = frontmatter.parse(path.read_text(encoding="utf-8"))
        draft.slug = draft.slug or path.stem
        sample = Sample(draft.slug, draft)
        parts = re.split(r"^## +(.+)$", draft.body, flags=re.M)
        sample.intro = _blocks(parts[0])
        for i in range(1, len(parts), 2):
            sample.sections.append(Section(parts[i].strip(), _blocks(parts[i + 1])))
        samples.append(sample)
    return samples


# ---- data folder, app, organisations ----------------------------------------------------------


def isolate_env(data_dir: Path) -> None:
    """Point this process and its children at ``data_dir`` and nothing else."""
    for key in ("KB_DATABASE_URL", "KB_INDEX_DIR", "KB_PORT", "KB_HOST"):
        os.environ.pop(key, None)
    os.environ["KB_DATA_DIR"] = str(data_dir)


def make_app(data_dir: Path) -> Any:
    from kb import create_app

    isolate_env(data_dir)
    return create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": "kb-bench", "TESTING": False})


def seed_accounts(s: Any) -> None:
    """The benchmark's organisations and users (passwords random: nobody signs in with them)."""
    from sqlalchemy import select

    from kb import accounts, passwords
    from kb.accounts import SYSTEM
    from kb.models import Organisation, User

    for code, name, kind in ORGS:
        if s.scalar(select(Organisation).where(Organisation.code == code)) is None:
            accounts.create_org(s, SYSTEM, code, name, kind)
    s.commit()
    for username, role, org in USERS:
        if s.scalar(select(User).where(User.username == username)) is None:
            accounts.create_user(s, SYSTEM, username, passwords.generate(), role, org)
    s.commit()


def user(s: Any, username: str) -> Any:
    from sqlalchemy import select

    from kb.models import User

    return s.scalar(select(User).where(User.username == username))


# ---- variants ------------------------------------------------------------------------------


class Generator:
    """Deterministic variants of the samples (same seed, same corpus)."""

    def __init__(self, samples: list[Sample], seed: int = 20240611) -> None:
        self.samples = samples
        self.rng = random.Random(seed)
        self.by_category: dict[str, list[Sample]] = {}
        for sample in samples:
            self.by_category.setdefault(sample.draft.category, []).append(sample)
        self.by_heading: dict[str, list[tuple[Sample, Section]]] = {}
        for sample in samples:
            for section in sample.sections:
                self.by_heading.setdefault(section.heading, []).append((sample, section))

    def _swap_names(self, base: Sample) -> tuple[list[tuple[str, str]], list[str], list[str]]:
        rng = self.rng
        draft = base.draft
        pool = PRODUCTS.get(draft.category) or PRODUCTS["外部设备"]
        products = [rng.choice(pool) for _ in draft.products] or [rng.choice(pool)]
        os_list = [rng.choice(OS_POOL) for _ in draft.os] or [rng.choice(OS_POOL)]
        pairs = [
            (old, new)
            for old, new in zip(draft.products, products, strict=False)
            if old and old != new
        ]
        pairs += [
            (old, new) for old, new in zip(draft.os, os_list, strict=False) if old and old != new
        ]
        return pairs, list(dict.fromkeys(products)), list(dict.fromkeys(os_list))

    def _body(self, base: Sample, target: int) -> str:
        rng = self.rng
        donors = [d for d in self.by_category.get(base.draft.category, []) if d is not base]
        donors = donors or [d for d in self.samples if d is not base]
        sections: list[Section] = []
        for section in base.sections:
            blocks = list(section.blocks)
            if len(blocks) > 2 and rng.random() < 0.4:
                del blocks[rng.randrange(1, len(blocks))]
            if rng.random() < 0.6:
                same = [
                    sec for smp, sec in self.by_heading.get(section.heading, []) if smp is not base
                ]
                donor_section = (
                    rng.choice(same) if same else rng.choice(rng.choice(donors).sections)
                )
                if donor_section.blocks:
                    blocks.insert(
                        rng.randrange(0, len(blocks) + 1), rng.choice(donor_section.blocks)
                    )
            sections.append(Section(section.heading, blocks))
        if rng.random() < 0.5:  # a whole section from another article of the same category
            extra = rng.choice(rng.choice(donors).sections)
            if extra.heading != "参考资料":
                sections.insert(
                    max(0, len(sections) - 1), Section(extra.heading, list(extra.blocks))
                )
        out: list[str] = list(base.intro[:1])
        size = sum(len(b) for b in out)
        for section in sections:
            if size >= target and section.heading != "参考资料":
                continue
            out.append(f"## {section.heading}")
            for block in section.blocks:
                if size >= target and out[-1] != f"## {section.heading}":
                    break
                out.append(block)
                size += len(block)
        return "\n\n".join(out) + "\n"

    def variant(self, n: int) -> dict[str, Any]:
        """The ``n``-th variant as plain values (article and revision fields)."""
        rng = self.rng
        base = self.samples[n % len(self.samples)]
        draft = base.draft
        pairs, products, os_list = self._swap_names(base)
        target = int(min(2000, max(900, rng.gauss(TARGET_CHARS, 220))))
        body = self._body(base, target)
        title, summary = draft.title, draft.summary
        for old, new in pairs:
            body = body.replace(old, new)
            title = title.replace(old, new)
            summary = summary.replace(old, new)
        title = (title + rng.choice(TITLE_TAILS))[:200]
        tags = list(dict.fromkeys([*draft.tags, *(p.split(" ", 1)[0] for p in products[:1])]))[:12]
        roll = rng.random()
        visibility = "public" if roll < 0.8 else "registered" if roll < 0.92 else "restricted"
        allowed = rng.sample(UNITS, rng.randint(0, 2)) if visibility == "restricted" else []
        return {
            "slug": f"{draft.slug[:64]}-v{n}",
            "title": title,
            "type": draft.type,
            "category": draft.category,
            "products": products,
            "os": os_list,
            "tags": tags,
            "summary": summary,
            "visibility": visibility,
            "allowed_orgs": allowed,
            "owner": rng.choice(ENTERPRISES),
            "body": body,
            "age_days": rng.uniform(0, 3 * 365),
            "helpful": (rng.randint(0, 40), rng.randint(0, 8)),
        }

    def sample_values(self, sample: Sample) -> dict[str, Any]:
        d = sample.draft
        return {
            "slug": sample.slug,
            "title": d.title,
            "type": d.type,
            "category": d.category,
            "products": list(d.products),
            "os": list(d.os),
            "tags": list(d.tags),
            "summary": d.summary,
            "visibility": d.visibility,
            "allowed_orgs": list(d.allowed_orgs),
            "owner": "demo",
            "body": d.body,
            "age_days": self.rng.uniform(0, 365),
            "helpful": (5, 1),
        }

    def stream(self, total: int) -> Iterator[dict[str, Any]]:
        """The samples themselves first, then variants, ``total`` documents in all."""
        for i in range(total):
            if i < len(self.samples):
                yield self.sample_values(self.samples[i])
            else:
                yield self.variant(i)


def _acl(visibility: str, owner: str, allowed: list[str]) -> list[str]:
    if visibility == "public":
        return ["public"]
    if visibility == "registered":
        return ["registered"]
    return ["staff", f"org:{owner}", *(f"org:{c}" for c in allowed)]


def _source(v: dict[str, Any]) -> str:
    head = "\n".join(
        f"{k}: {v[k]}" for k in ("title", "slug", "type", "category", "summary", "visibility")
    )
    return f"---\n{head}\n---\n\n{v['body']}"


def write_corpus(
    s: Any,
    total: int,
    *,
    seed: int = 20240611,
    batch: int = 2000,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Insert ``total`` published articles (samples + variants) with one revision each."""
    from sqlalchemy import insert, select, update

    from kb.models import Article, Organisation, Revision

    orgs = {o.code: o.id for o in s.scalars(select(Organisation))}
    start_id = (s.scalar(select(Article.id).order_by(Article.id.desc()).limit(1)) or 0) + 1
    start_rev = (s.scalar(select(Revision.id).order_by(Revision.id.desc()).limit(1)) or 0) + 1
    gen = Generator(load_samples(), seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    articles: list[dict[str, Any]] = []
    revisions: list[dict[str, Any]] = []
    chars = cjk = written = 0
    cjk_re = re.compile(r"[\u3400-\u9fff]")

    def flush() -> None:
        nonlocal articles, revisions
        if not articles:
            return
        # article ↔ revision point at each other: articles first without their revision, then the
        # revisions, then one UPDATE. (Deferring the foreign keys instead makes SQLite scan the
        # unindexed article.published_revision_id for every revision: the load goes quadratic.)
        first, last = articles[0]["id"], articles[-1]["id"]
        s.execute(insert(Article), [{**a, "published_revision_id": None} for a in articles])
        s.execute(insert(Revision), revisions)
        s.execute(
            update(Article)
            .where(Article.id.between(first, last))
            .values(published_revision_id=Article.id + (start_rev - start_id))
            .execution_options(synchronize_session=False)
        )
        s.commit()
        articles, revisions = [], []

    for i, v in enumerate(gen.stream(total)):
        aid, rid = start_id + i, start_rev + i
        at = now - timedelta(days=v["age_days"])
        meta = {
            "title": v["title"],
            "slug": v["slug"],
            "type": v["type"],
            "category": v["category"],
            "products": v["products"],
            "os": v["os"],
            "tags": v["tags"],
            "summary": v["summary"],
            "visibility": v["visibility"],
            "allowed_orgs": v["allowed_orgs"],
            "review_by": None,
            "enterprise": v["owner"],
        }
        acl = _acl(v["visibility"], v["owner"], v["allowed_orgs"])
        articles.append(
            {
                "id": aid,
                "slug": v["slug"],
                "owner_id": orgs[v["owner"]],
                "status": "published",
                "pending": None,
                "title": v["title"],
                "type": v["type"],
                "category": v["category"],
                "products": v["products"],
                "os": v["os"],
                "tags": v["tags"],
                "summary": v["summary"],
                "visibility": v["visibility"],
                "allowed_orgs": v["allowed_orgs"],
                "acl": " " + " ".join(acl) + " ",
                "review_by": None,
                "created_at": at,
                "updated_at": at,
                "published_at": at,
                "published_revision_id": rid,
                "working_revision_id": None,
                "helpful_yes": v["helpful"][0],
                "helpful_no": v["helpful"][1],
            }
        )
        revisions.append(
            {
                "id": rid,
                "article_id": aid,
                "number": 1,
                "source": _source(v),
                "meta": meta,
                "body": v["body"],
                "author_id": None,
                "author_name": "基准",
                "message": "bench",
                "created_at": at,
                "state": "published",
                "review_note": "",
                "resolves_request_id": None,
            }
        )
        chars += len(v["body"])
        cjk += len(cjk_re.findall(v["body"]))
        written += 1
        if len(articles) >= batch:
            flush()
            if written % max(batch, total // 10) < batch:
                rate = written / (time.perf_counter() - started)
                progress(f"  corpus: {written:,}/{total:,} rows ({rate:,.0f}/s)")
    flush()
    seconds = time.perf_counter() - started
    return {
        "documents": written,
        "seconds": round(seconds, 2),
        "mean_body_chars": round(chars / max(written, 1)),
        "mean_body_cjk_chars": round(cjk / max(written, 1)),
    }
