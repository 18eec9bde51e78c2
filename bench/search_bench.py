"""Search benchmarks of issue 3: build, publish-to-searchable, query latency (searcher and HTTP
API), index size and memory at 1k, 10k and 100k articles, next to SQLite FTS5 (trigram) on the same
corpus and queries, with the ratio kb / FTS5 for every figure.

    .venv/bin/python bench/search_bench.py                      # 1k, 10k and 100k (~35 min)
    .venv/bin/python bench/search_bench.py --sizes 1000,10000   # ~5 min
    .venv/bin/python bench/search_bench.py --quick              # 1k only, ~1.5 min

Per size, in a fresh temporary data folder:
 1. corpus: ``articles/`` + generated variants (bench/corpus.py), bulk-inserted as rows;
 2. ``kb.index.writer.rebuild(procs=2)`` then ``rebuild(procs=1)``, each in a child process
    (peak RSS from the child's own getrusage, its worker processes' separately); the procs=1
    index is the one queried afterwards;
 3. publish-to-searchable: create + publish_directly through kb.articles, ``commit()`` (which
    drains the outbox), then ``search()`` until the article's unique word is found;
 4. queries through ``kb.index.searcher.search`` in this process (one reused searcher), as a
    curator, 10 per page, highlighting on (it always is);
 5. the same queries through ``GET /api/v1/search`` of a real ``kb serve`` (waitress) subprocess,
    one urllib client with a curator's API token; the server's VmHWM afterwards;
 6. SQLite FTS5 (tokenize='trigram') built from the same ``document_for`` output in a child
    process, queried (bm25, snippet()) in another, plus its own publish-to-searchable.
Results: a table per size, and JSON in bench/out/search-<date>.json (merged per size).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import random
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus

ROOT = corpus.ROOT
OUT = ROOT / "bench" / "out"
KB = Path(sys.executable).parent / "kb"
TARGETS = {  # figure → (size it applies to, comparison, value)
    "rebuild_rate": (10_000, ">=", 250.0),
    "publish_p95_ms": (None, "<", 1000.0),
    "search_p95_ms": {10_000: 30.0, 100_000: 150.0},
    "http_p95_ms": (10_000, "<", 60.0),
    "serve_hwm_mb": (100_000, "<", 400.0),
}


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def dist(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(pct(values, 50), 2),
        "p95": round(pct(values, 95), 2),
        "p99": round(pct(values, 99), 2),
        "max": round(max(values), 2) if values else float("nan"),
        "mean": round(statistics.fmean(values), 2) if values else float("nan"),
    }


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM of a process in kB (Linux)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---- queries -----------------------------------------------------------------------------------

PROBLEMS = {
    "打印与扫描": ["驱动", "脱机", "打印乱码", "扫描不了", "卡纸", "驱动安装失败", "打印空白页"],
    "桌面操作系统": ["更新后黑屏", "激活", "时间不准", "分辨率", "输入法", "共享文件夹"],
    "处理器与固件": ["BIOS 设置", "U盘启动", "固件升级", "开机报警", "装不了软件"],
    "数据库": ["启动失败", "中文乱码", "备份恢复", "远程连接", "端口"],
    "中间件": ["内存溢出", "修改端口", "JVM 参数", "部署应用"],
    "浏览器与插件": ["兼容模式", "控件加载失败", "证书不受信任", "设为默认浏览器"],
    "办公软件": ["缺字体", "输出 PDF", "宏用不了", "格式兼容"],
    "安全与政务客户端": ["识别不了", "登录失败", "PIN 码锁定", "连接失败"],
    "外部设备": ["没画面", "读卡失败", "不识别", "无信号"],
}
COLLOQUIAL = [
    "{os}上打印机一直排队打不出来",
    "{os}电脑插U盘没反应怎么办",
    "{os}开机黑屏只有鼠标",
    "{os}装软件提示依赖错误",
    "{os}时间老是不对",
    "{os}投影仪没信号",
    "{os}怎么连单位的共享盘",
    "{os}用WPS打开公文字体不对",
    "{os}输入法打不出中文",
    "{os}网银证书插上没反应",
    "{os}浏览器打不开政务网站",
    "{os}怎么把文档转成PDF",
    "{os}扫描仪找不到",
    "为什么{os}装不了微信",
    "{os}屏幕字太小看不清",
    "{os}电脑越用越慢",
    "{os}提示系统未激活",
    "{os}显示器分辨率调不了",
    "{os}身份证读卡器读不出来",
    "{os}高拍仪网页调用不了",
]
OS_SHORT = ["麒麟", "统信", "UOS", "麒麟系统", "统信电脑", "银河麒麟V10", "信创电脑", "国产电脑"]


def build_queries(n: int, seed: int = 7) -> list[str]:
    """The judged relevance queries, then product/model and colloquial variants, ``n`` in all."""
    import yaml

    rng = random.Random(seed)
    judged = yaml.safe_load(
        (ROOT / "bench" / "relevance" / "queries.yaml").read_text(encoding="utf-8")
    )
    queries = [str(e["query"]) for e in judged]
    product: list[str] = []
    for category, problems in PROBLEMS.items():
        for p in corpus.PRODUCTS[category]:
            product.append(f"{p} {rng.choice(problems)}")
    rng.shuffle(product)
    colloquial = [t.format(os=o) for t in COLLOQUIAL for o in OS_SHORT]
    rng.shuffle(colloquial)
    extra = [q for pair in zip(product, colloquial, strict=False) for q in pair]
    seen = set(queries)
    for q in extra:
        if len(queries) >= n:
            break
        if q not in seen:
            queries.append(q)
            seen.add(q)
    return queries[:n]


# ---- child processes -----------------------------------------------------------------------------


def _watch(label: str, stop: threading.Event, every: float = 30.0) -> None:
    started = time.perf_counter()
    while not stop.wait(every):
        rss = proc_status().get("VmRSS", 0) / 1024
        print(
            f"    {label}: {time.perf_counter() - started:.0f} s, RSS {rss:.0f} MB",
            file=sys.stderr,
            flush=True,
        )


def child_rebuild(data_dir: Path, procs: int) -> dict[str, Any]:
    """Run inside a child: one full rebuild, then what opening the result costs."""
    stop = threading.Event()
    threading.Thread(target=_watch, args=(f"rebuild procs={procs}", stop), daemon=True).start()
    app = corpus.make_app(data_dir)
    with app.app_context():
        from kb import db
        from kb.index import analyzer, writer

        analyzer.segmenter()  # jieba's dictionary: once per process, not part of a build's rate
        rss_before = proc_status().get("VmRSS", 0)
        info = writer.rebuild(db.session(), procs=procs)
        stop.set()
        folder = Path(info["folder"])
        files = [p.name for p in folder.iterdir()]
        ix = writer.open_current()
        started = time.perf_counter()
        searcher = ix.searcher()
        open_ms = (time.perf_counter() - started) * 1000
        segments = len(ix._segments())
        searcher.close()
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "procs": procs,
        "documents": info["documents"],
        "seconds": round(info["seconds"], 2),
        "rate": round(info["documents"] / info["seconds"], 1),
        "peak_rss_mb": round(self_kb / 1024, 1),
        "workers_peak_rss_mb": round(children_kb / 1024, 1) if procs > 1 else 0.0,
        "rss_before_build_mb": round(rss_before / 1024, 1),
        "index_mb": round(dir_bytes(folder) / 2**20, 1),
        "segments": segments,
        "compound_files": sorted(f for f in files if f.endswith(".seg")),
        "searcher_open_ms": round(open_ms, 2),
    }


FTS_COLUMNS = ("title", "keywords", "body")
FTS_WEIGHTS = "0.0, 5.0, 2.5, 1.0"  # slug (unindexed), then as kb's SEARCH_FIELDS
INSERT_DOC = f"INSERT INTO doc VALUES ({', '.join('?' * (1 + len(FTS_COLUMNS)))})"
_RUNS = re.compile(r"[\u3400-\u9fff]+|[a-z0-9][a-z0-9._:/+-]*")


def fts_match(q: str) -> str:
    """A natural-language query as an FTS5 trigram query: every 3-gram of every run, ORed
    (the trigram tokenizer cannot match anything shorter than three characters)."""
    import unicodedata

    grams: list[str] = []
    for run in _RUNS.findall(unicodedata.normalize("NFKC", q).lower()):
        if len(run) < 3:
            continue
        if run.isascii():
            grams.append(run)
        else:
            grams.extend(run[i : i + 3] for i in range(len(run) - 2))
    return " OR ".join('"' + g.replace('"', '""') + '"' for g in dict.fromkeys(grams))


def child_fts5_build(data_dir: Path, fts_path: Path) -> dict[str, Any]:
    """Run inside a child: FTS5 trigram table from the same document_for() output kb indexes."""
    import sqlite3

    app = corpus.make_app(data_dir)
    with app.app_context():
        from kb import db
        from kb.index import analyzer, writer
        from kb.index.schema import document_for

        analyzer.segmenter()  # document_for's pinyin uses jieba: same footing as kb's build
        con = sqlite3.connect(fts_path)
        con.execute(
            "CREATE VIRTUAL TABLE doc USING fts5(slug UNINDEXED, "
            + ", ".join(FTS_COLUMNS)
            + ", tokenize='trigram')"
        )
        started = time.perf_counter()
        insert_seconds = 0.0
        n = 0
        batch: list[tuple[str, ...]] = []
        for article in writer._published(db.session()):
            d = document_for(article)
            batch.append((d["slug"], *(d[c] for c in FTS_COLUMNS)))
            if len(batch) >= 1000:
                t = time.perf_counter()
                con.executemany(INSERT_DOC, batch)
                insert_seconds += time.perf_counter() - t
                n += len(batch)
                batch = []
        t = time.perf_counter()
        if batch:
            con.executemany(INSERT_DOC, batch)
            n += len(batch)
        con.commit()
        insert_seconds += time.perf_counter() - t
        seconds = time.perf_counter() - started
        con.close()
    return {
        "documents": n,
        "seconds": round(seconds, 2),
        "rate": round(n / seconds, 1),
        "insert_seconds": round(insert_seconds, 2),
        "insert_rate": round(n / insert_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "index_mb": round(fts_path.stat().st_size / 2**20, 1),
    }


def child_fts5_query(fts_path: Path, queries_file: Path, publishes: int) -> dict[str, Any]:
    """Run inside a child that imports nothing of kb: queries, then publish-to-searchable."""
    import sqlite3

    queries = json.loads(queries_file.read_text(encoding="utf-8"))
    con = sqlite3.connect(fts_path)
    sql = (
        f"SELECT slug, title, snippet(doc, {1 + FTS_COLUMNS.index('body')}, "
        "'<mark>', '</mark>', '…', 24) FROM doc "
        f"WHERE doc MATCH ? ORDER BY bm25(doc, {FTS_WEIGHTS}) LIMIT 10"
    )
    for q in queries[:20]:  # warm the page cache like kb's warm-up
        m = fts_match(q)
        if m:
            con.execute(sql, (m,)).fetchall()
    times: list[float] = []
    empty = 0
    for q in queries:
        started = time.perf_counter()
        m = fts_match(q)
        rows = con.execute(sql, (m,)).fetchall() if m else []
        times.append((time.perf_counter() - started) * 1000)
        empty += not rows
    body = "国产桌面系统打印原理与驱动选择。" * 60
    pub: list[float] = []
    for i in range(publishes):
        word = f"ftspub{i}x{secrets.token_hex(4)}"
        started = time.perf_counter()
        con.execute(
            "INSERT INTO doc VALUES (?, ?, ?, ?)",
            (f"fts-pub-{i}", f"发布测试 {i}", "", f"{body} {word}"),
        )
        con.commit()
        deadline = started + 5
        while time.perf_counter() < deadline:
            if con.execute(sql, (fts_match(word),)).fetchall():
                break
        pub.append((time.perf_counter() - started) * 1000)
    con.close()
    return {
        "search_ms": dist(times),
        "empty_results": empty,
        "publish_ms": dist(pub),
        "peak_rss_mb": round(proc_status().get("VmHWM", 0) / 1024, 1),
    }


def child_latency(
    data_dir: Path, queries_file: Path, publishes: int, http_requests: int, http_budget: float
) -> dict[str, Any]:
    """Publish, searcher and HTTP latency with whatever ``kb`` this interpreter imports: run
    with another checkout's virtualenv (``--before``), it measures that code on this index."""
    import kb

    queries = json.loads(queries_file.read_text(encoding="utf-8"))
    app = corpus.make_app(data_dir)
    out: dict[str, Any] = {"kb": str(Path(kb.__file__).resolve().parent.parent)}
    out["publish"] = publish_latency(app, publishes)
    out["searcher"] = query_latency(app, queries)
    if http_requests:
        out["http"] = http_latency(app, data_dir, queries, http_requests, http_budget)
    app.extensions["kb_engine"].dispose()
    return out


def run_child(
    args: list[str], label: str, timeout: float, python: str | None = None
) -> dict[str, Any]:
    """Run this script in a child mode; its last stdout line is a JSON result."""
    cmd = [python or sys.executable, str(Path(__file__).resolve()), "--child", *args]
    env = dict(os.environ)
    if python:
        env["KB_BENCH_CODE"] = str(Path(python).parent.parent.parent)
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed (exit {proc.returncode}): {proc.stdout[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


# ---- in-process stages ---------------------------------------------------------------------------


def publish_latency(app: Any, n: int) -> dict[str, Any]:
    from kb import articles as ops
    from kb import db
    from kb.accounts import SYSTEM
    from kb.frontmatter import ArticleDraft
    from kb.index import searcher
    from kb.models import Organisation
    from kb.permissions import policy

    samples = corpus.load_samples()
    totals: list[float] = []
    parts: dict[str, list[float]] = {"ops": [], "commit_drain": [], "search": []}
    misses = 0
    with app.app_context():
        s = db.session()
        from sqlalchemy import select

        owner = s.scalar(select(Organisation).where(Organisation.code == "demo"))
        terms = policy.visible_terms(corpus.user(s, "curator"))
        for i in range(n):
            base = samples[i % len(samples)].draft
            word = f"kbpub{i}x{secrets.token_hex(4)}"
            slug = f"bench-publish-{i}-{secrets.token_hex(3)}"
            draft = ArticleDraft(
                title=f"{base.title}（发布测试 {i}）",
                type=base.type,
                category=base.category,
                visibility="public",
                body=f"{base.body}\n\n本文编号 {word}。\n",
                slug=slug,
                products=list(base.products),
                os=list(base.os),
                tags=list(base.tags),
                summary=base.summary,
            )
            t0 = time.perf_counter()
            article = ops.create(s, SYSTEM, draft, owner=owner, message="bench")
            ops.publish_directly(s, SYSTEM, article, note="bench")
            t1 = time.perf_counter()
            ops.commit(s)  # commit, then drain the outbox into the index
            t2 = time.perf_counter()
            found = False
            while time.perf_counter() - t2 < 5.0:
                page = searcher.search(word, terms, s, per_page=10)
                if any(h.slug == slug for h in page.hits):
                    found = True
                    break
                time.sleep(0.01)
            t3 = time.perf_counter()
            misses += not found
            totals.append((t3 - t0) * 1000)
            parts["ops"].append((t1 - t0) * 1000)
            parts["commit_drain"].append((t2 - t1) * 1000)
            parts["search"].append((t3 - t2) * 1000)
    return {
        "total_ms": dist(totals),
        "parts_p50_ms": {k: round(pct(v, 50), 1) for k, v in parts.items()},
        "parts_p95_ms": {k: round(pct(v, 95), 1) for k, v in parts.items()},
        "not_found_within_5s": misses,
    }


PROFILED = {  # (file suffix, function) → label, for where a query's time goes
    ("kb/index/searcher.py", "search"): "search() total",
    ("whoosh/searching.py", "search_with_collector"): "collect (match + score + facets)",
    ("whoosh/searching.py", "groups"): "facet groups",
    ("kb/index/searcher.py", "_hit"): "hits: stored fields + highlighting",
    ("kb/index/searcher.py", "suggest_correction"): "did-you-mean suggestion",
    ("kb/index/searcher.py", "build_query"): "build query",
    ("kb/index/searcher.py", "parse"): "parse (jieba)",
    ("kb/index/synonyms.py", "mapping"): "synonym map (DB read)",
    ("kb/index/searcher.py", "searcher"): "searcher() refresh",
}


def query_latency(app: Any, queries: list[str], profile_n: int = 40) -> dict[str, Any]:
    from kb import db
    from kb.index import searcher
    from kb.permissions import policy

    with app.app_context():
        s = db.session()
        terms = policy.visible_terms(corpus.user(s, "curator"))
        for q in queries[:20]:  # warm-up: searcher, jieba, lexicon, page cache
            searcher.search(q, terms, s, per_page=10)
        times: list[tuple[float, str, int, bool]] = []
        timed_out = 0
        for i, q in enumerate(queries):
            started = time.perf_counter()
            page = searcher.search(q, terms, s, per_page=10)
            ms = (time.perf_counter() - started) * 1000
            times.append((ms, q, page.total, page.suggestion is not None))
            timed_out += page.timed_out
            if (i + 1) % 60 == 0:
                log(
                    f"  searcher: {i + 1}/{len(queries)} queries, "
                    f"median so far {pct([t[0] for t in times], 50):.0f} ms"
                )
        # where the time goes: one more (untimed) pass over a sample, under cProfile
        sample = queries[:: max(1, len(queries) // profile_n)][:profile_n]
        prof = cProfile.Profile()
        prof.enable()
        for q in sample:
            searcher.search(q, terms, s, per_page=10)
        prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    breakdown: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, _tt, cumtime, _callers) in stats.items():
        for (suffix, name), label in PROFILED.items():
            if func == name and filename.endswith(suffix):
                breakdown[label] = round(
                    breakdown.get(label, 0.0) + cumtime * 1000 / len(sample), 2
                )
    ms = [t[0] for t in times]
    slowest = sorted(times, reverse=True)[:5]
    return {
        "search_ms": dist(ms),
        "empty_results": sum(1 for t in times if t[2] == 0),
        "timed_out": timed_out,
        "with_suggestion": sum(1 for t in times if t[3]),
        "slowest": [
            {"ms": round(t[0], 1), "query": t[1], "total": t[2], "suggestion": t[3]}
            for t in slowest
        ],
        "profile_ms_per_query": breakdown,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_latency(
    app: Any, data_dir: Path, queries: list[str], limit: int, budget: float
) -> dict[str, Any]:
    from kb import accounts, db
    from kb.accounts import SYSTEM

    with app.app_context():
        s = db.session()
        token = accounts.create_token(s, SYSTEM, corpus.user(s, "curator"), "bench")
        s.commit()
    port = free_port()
    env = {**os.environ, "KB_DATA_DIR": str(data_dir)}
    logfile = data_dir / "serve.log"
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(
            [str(KB), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/api/v1/search?"
    headers = {"Authorization": f"Bearer {token}"}

    def get(q: str) -> tuple[float, dict[str, Any]]:
        req = urllib.request.Request(base + urllib.parse.urlencode({"q": q}), headers=headers)
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        ms = (time.perf_counter() - started) * 1000
        return ms, json.loads(raw)

    try:
        started = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"kb serve exited ({proc.returncode}): {logfile.read_text()[-2000:]}"
                )
            try:
                get("打印机")
                break
            except OSError:
                if time.perf_counter() - started > 120:
                    raise
                time.sleep(0.2)
        startup = time.perf_counter() - started
        after_start = proc_status(proc.pid)
        for q in queries[:20]:
            get(q)
        times: list[float] = []
        errors = 0
        run_started = time.perf_counter()
        for i, q in enumerate((queries * (limit // max(len(queries), 1) + 1))[:limit]):
            if i >= 50 and time.perf_counter() - run_started > budget:
                log(f"  http: time budget of {budget:.0f} s spent after {i} requests")
                break
            try:
                ms, _data = get(q)
                times.append(ms)
            except OSError:
                errors += 1
            if (i + 1) % 60 == 0:
                log(f"  http: {i + 1} requests, median so far {pct(times, 50):.0f} ms")
        status = proc_status(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return {
        "search_ms": dist(times),
        "errors": errors,
        "startup_seconds": round(startup, 1),
        "rss_after_start_mb": round(after_start.get("VmRSS", 0) / 1024, 1),
        "rss_mb": round(status.get("VmRSS", 0) / 1024, 1),
        "hwm_mb": round(status.get("VmHWM", 0) / 1024, 1),
    }


def doc_prep_breakdown(app: Any, n: int = 300) -> dict[str, float]:
    """Per-document cost of what a build does besides writing postings (ms per document)."""
    from kb import db
    from kb.index import analyzer, schema, writer

    with app.app_context():
        published = db.session().scalars(writer._published_query())
        arts = [a for _, a in zip(range(n), published, strict=False)]
        analyzer.segmenter()

        def timed(fn: Any) -> float:
            started = time.perf_counter()
            for a in arts:
                fn(a)
            return round((time.perf_counter() - started) * 1000 / len(arts), 2)

        body = lambda a: a.published_revision.body  # noqa: E731
        out = {"plain_text (regex, no render)": timed(lambda a: schema.plain_text(body(a)))}
        out["pinyin_terms"] = timed(lambda a: schema.pinyin_terms(a.title, *a.products, *a.tags))
        docs = []
        out["document_for (all of the above)"] = timed(
            lambda a: docs.append(schema.document_for(a))
        )
        fields = ("title", "keywords", "body")
        started = time.perf_counter()
        tokens = 0
        for d in docs:
            for f in fields:
                tokens += sum(1 for _ in analyzer.tokens(d[f]))
        out["analyzer tokens (all text fields)"] = round(
            (time.perf_counter() - started) * 1000 / len(docs), 2
        )
        out["tokens per document"] = round(tokens / len(docs))
    return out


# ---- one size ------------------------------------------------------------------------------------


def run_size(size: int, queries: list[str], args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"kb-bench-{size}-", dir=args.workdir))
    data_dir = Path(args.data) if args.data else work / "data"
    data_dir.mkdir(exist_ok=True)
    result: dict[str, Any] = {
        "size": size,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    result["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    log(f"=== {size:,} articles — data dir {data_dir}")
    try:
        app = corpus.make_app(data_dir)
        if args.data:
            log(f"corpus and index: reusing {data_dir} (built by bench/ops_bench.py)")
            with app.app_context():
                from kb.index import writer

                writer.drain()
        else:
            with app.app_context():
                from kb import db

                db.ensure_schema()
                s = db.session()
                corpus.seed_accounts(s)
                log("corpus: generating and inserting rows")
                result["corpus"] = corpus.write_corpus(s, size, progress=log)
            log(f"corpus: {result['corpus']}")
        if args.breakdown:
            result["doc_prep_ms"] = doc_prep_breakdown(app)
            log(f"per-document build costs (ms): {result['doc_prep_ms']}")
        builds: dict[int, Any] = {}
        if args.data:
            order: tuple[int, ...] = ()
        elif args.build_procs:
            order = (args.build_procs,)
        else:
            order = (2, 1) if not args.no_procs2 else (1,)
        for procs in order:
            log(f"rebuild procs={procs} (child process; progress every 30 s)")
            builds[procs] = run_child(
                ["rebuild", str(data_dir), str(procs)], f"rebuild procs={procs}", args.timeout
            )
            b = builds[procs]
            log(
                f"rebuild procs={procs}: {b['documents']:,} docs in {b['seconds']} s "
                f"= {b['rate']} docs/s; "
                f"peak RSS {b['peak_rss_mb']} MB (workers {b['workers_peak_rss_mb']} MB); "
                f"index {b['index_mb']} MB, {b['segments']} segment(s), "
                f"compound files {b['compound_files'] or 'none'}, "
                f"searcher open {b['searcher_open_ms']} ms"
            )
        result["rebuild"] = {str(k): v for k, v in builds.items()}
        log(f"publish-to-searchable: {args.publishes} publishes")
        result["publish"] = publish_latency(app, args.publishes)
        log(f"publish: {result['publish']}")
        log(f"searcher: {len(queries)} queries in-process")
        result["searcher"] = query_latency(app, queries)
        log(
            f"searcher: {result['searcher']['search_ms']}; where the time goes (ms/query): "
            f"{result['searcher']['profile_ms_per_query']}"
        )
        if not args.no_http:
            log(f"HTTP API: kb serve + {args.http_requests} requests")
            result["http"] = http_latency(
                app, data_dir, queries, args.http_requests, args.http_budget
            )
            log(f"http: {result['http']}")
        if args.before:
            # the other checkout's code on the same index and database, in the same run; after
            # this code's HTTP stage, because the older code publishes into the index without
            # recording it in kb-index.json, which this code's server then takes for damage
            python = str(Path(args.before).resolve() / ".venv" / "bin" / "python")
            if args.data:  # keep the reused folder whole for this code's next run
                log("BEFORE: copying the data folder for the other checkout")
                before_dir = work / "before-data"
                shutil.copytree(data_dir, before_dir)
            else:
                before_dir = data_dir
            qfile = work / "queries-before.json"
            qfile.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
            log(f"BEFORE ({args.before}): publish, searcher and HTTP latency (child process)")
            http_n = 0 if args.no_http else args.http_requests
            result["before"] = run_child(
                [
                    "latency",
                    str(before_dir),
                    str(qfile),
                    str(args.publishes),
                    str(http_n),
                    str(args.http_budget),
                ],
                "before latency",
                args.timeout,
                python=python,
            )
            result["before"]["loadavg"] = [round(x, 2) for x in os.getloadavg()]
            log(f"before: {json.dumps(result['before'], ensure_ascii=False)[:1500]}")
        app.extensions["kb_engine"].dispose()
        if not args.no_fts5:
            fts_path = work / "fts5.sqlite3"
            log("FTS5 trigram: build (child process)")
            build = run_child(
                ["fts5-build", str(data_dir), str(fts_path)], "fts5 build", args.timeout
            )
            log(f"fts5 build: {build}")
            qfile = work / "queries.json"
            qfile.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
            log("FTS5 trigram: queries + publishes (child process)")
            query = run_child(
                ["fts5-query", str(fts_path), str(qfile), str(args.publishes)],
                "fts5 query",
                args.timeout,
            )
            log(f"fts5 query: {query}")
            result["fts5"] = {"build": build, "query": query}
        if order:
            result["index_mb_live"] = builds[order[-1]]["index_mb"]
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


# ---- report --------------------------------------------------------------------------------------


def _ratio(kb: float | None, peer: float | None) -> str:
    if kb is None or peer is None or not peer:
        return "—"
    return f"{kb / peer:.1f}×"


def _target(name: str, size: int, value: float | None) -> str:
    spec = TARGETS.get(name)
    if spec is None or value is None:
        return ""
    if isinstance(spec, dict):
        if size not in spec:
            at = 100_000 if size > 10_000 else 10_000
            return f"(< {spec[at]:g} at {at:,})"
        limit, op = spec[size], "<"
    else:
        at, op, limit = spec
        if at is not None and at != size:
            return f"({op} {limit:g} at {at:,})"
    ok = value >= limit if op == ">=" else value < limit
    return f"{op} {limit:g}  {'PASS' if ok else 'FAIL'}"


def table(r: dict[str, Any]) -> str:
    size = r["size"]
    b1 = r["rebuild"].get("1") or {}
    b2 = r["rebuild"].get("2")
    live = b1 or b2 or {}  # the index queried: procs=1 unless only procs=2 was built
    fb = r.get("fts5", {}).get("build", {})
    fq = r.get("fts5", {}).get("query", {})
    sm = r["searcher"]["search_ms"]
    hm = r.get("http", {}).get("search_ms", {})
    pm = r["publish"]["total_ms"]
    rows: list[tuple[str, Any, Any, str]] = [
        (
            "full rebuild procs=1 (articles/s)",
            b1.get("rate"),
            fb.get("rate"),
            _target("rebuild_rate", size, b1.get("rate")),
        ),
        (
            "full rebuild procs=2 (articles/s)",
            b2["rate"] if b2 else None,
            fb.get("rate"),
            _target("rebuild_rate", size, b2["rate"] if b2 else None),
        ),
        ("  FTS5 insert only, excl. document_for (art./s)", None, fb.get("insert_rate"), ""),
        ("rebuild seconds procs=1", b1.get("seconds"), fb.get("seconds"), ""),
        ("build peak RSS procs=1 (MB)", b1.get("peak_rss_mb"), fb.get("peak_rss_mb"), ""),
        (
            "build peak RSS procs=2 parent / worker (MB)",
            f"{b2['peak_rss_mb']} / {b2['workers_peak_rss_mb']}" if b2 else None,
            None,
            "",
        ),
        ("index size on disk (MB)", live.get("index_mb"), fb.get("index_mb"), ""),
        ("publish-to-searchable p50 (ms)", pm["p50"], fq.get("publish_ms", {}).get("p50"), ""),
        (
            "publish-to-searchable p95 (ms)",
            pm["p95"],
            fq.get("publish_ms", {}).get("p95"),
            _target("publish_p95_ms", size, pm["p95"]),
        ),
        ("searcher p50 (ms)", sm["p50"], fq.get("search_ms", {}).get("p50"), ""),
        (
            "searcher p95 (ms)",
            sm["p95"],
            fq.get("search_ms", {}).get("p95"),
            _target("search_p95_ms", size, sm["p95"]),
        ),
        ("searcher p99 (ms)", sm["p99"], fq.get("search_ms", {}).get("p99"), ""),
        ("HTTP API p50 (ms)", hm.get("p50"), fq.get("search_ms", {}).get("p50"), ""),
        (
            "HTTP API p95 (ms)",
            hm.get("p95"),
            fq.get("search_ms", {}).get("p95"),
            _target("http_p95_ms", size, hm.get("p95")),
        ),
        ("HTTP API p99 (ms)", hm.get("p99"), fq.get("search_ms", {}).get("p99"), ""),
        (
            "serving process VmHWM (MB)",
            r.get("http", {}).get("hwm_mb"),
            fq.get("peak_rss_mb"),
            _target("serve_hwm_mb", size, r.get("http", {}).get("hwm_mb")),
        ),
    ]
    before = r.get("before")
    if before:
        bs = before["searcher"]["search_ms"]
        bh = before.get("http", {})
        rows += [
            (
                "BEFORE publish-to-searchable p95 (ms)",
                before["publish"]["total_ms"]["p95"],
                None,
                "",
            ),
            ("BEFORE searcher p50 (ms)", bs["p50"], None, ""),
            ("BEFORE searcher p95 (ms)", bs["p95"], None, ""),
            ("BEFORE HTTP API p95 (ms)", bh.get("search_ms", {}).get("p95"), None, ""),
            ("BEFORE serving process VmHWM (MB)", bh.get("hwm_mb"), None, ""),
        ]
    made = r.get("corpus") or {"mean_body_chars": "?", "mean_body_cjk_chars": "?"}
    lines = [
        f"\n{size:,} articles (corpus: mean body {made['mean_body_chars']} chars, "
        f"{made['mean_body_cjk_chars']} Han; {len(r.get('queries', [])) or '?'} queries)",
        f"  {'figure':<48}{'kb':>14}{'FTS5':>10}{'kb/FTS5':>9}   target",
    ]
    for name, kb, peer, target in rows:
        kb_s = "—" if kb is None else (f"{kb:,.1f}" if isinstance(kb, float | int) else str(kb))
        peer_s = "—" if peer is None else f"{peer:,.1f}"
        ratio = _ratio(kb, peer) if isinstance(kb, float | int) else "—"
        lines.append(f"  {name:<48}{kb_s:>14}{peer_s:>10}{ratio:>9}   {target}")
    notes = [
        f"segments {live.get('segments')}, compound {live.get('compound_files') or 'none'}, "
        f"searcher open {live.get('searcher_open_ms')} ms"
    ]
    if b2:
        notes.append(
            f"procs=2 index: segments {b2['segments']}, compound {b2['compound_files'] or 'none'}, "
            f"searcher open {b2['searcher_open_ms']} ms"
        )
    notes.append(f"publish parts p95 (ms): {r['publish']['parts_p95_ms']}")
    notes.append(
        f"empty results: kb {r['searcher']['empty_results']}, "
        f"FTS5 {fq.get('empty_results', '—')}; "
        f"kb timed out (partial results) {r['searcher'].get('timed_out', '?')}"
    )
    notes.append(
        f"HTTP requests {hm.get('n', '—')}; load average at start / end "
        f"{r.get('loadavg_at_start')} / {r.get('loadavg_at_end')} "
        "(other work on the machine skews every figure)"
    )
    notes.append(f"kb ms/query by stage (cProfile pass): {r['searcher']['profile_ms_per_query']}")
    notes.append(
        "slowest kb queries: "
        + "; ".join(
            f"{s['ms']} ms {s['query']} "
            f"({s['total']} hits{', suggestion' if s['suggestion'] else ''})"
            for s in r["searcher"]["slowest"][:3]
        )
    )
    lines += [f"  · {n}" for n in notes]
    return "\n".join(lines)


def save(results: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"sizes": {}}
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            payload = json.loads(path.read_text(encoding="utf-8"))
    payload.update(
        {
            "date": date.today().isoformat(),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        }
    )
    for r in results:
        payload.setdefault("sizes", {})[str(r["size"])] = r
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        mode, rest = argv[1], argv[2:]
        if os.environ.get("KB_BENCH_CODE"):  # measure that checkout's kb, not this one's
            sys.path.insert(0, os.environ["KB_BENCH_CODE"])
        if mode == "rebuild":
            out = child_rebuild(Path(rest[0]), int(rest[1]))
        elif mode == "fts5-build":
            out = child_fts5_build(Path(rest[0]), Path(rest[1]))
        elif mode == "latency":
            out = child_latency(
                Path(rest[0]), Path(rest[1]), int(rest[2]), int(rest[3]), float(rest[4])
            )
        elif mode == "fts5-query":
            out = child_fts5_query(Path(rest[0]), Path(rest[1]), int(rest[2]))
        else:
            raise SystemExit(f"unknown child mode {mode}")
        print(json.dumps(out, ensure_ascii=False), flush=True)
        return 0

    parser = argparse.ArgumentParser(description="kb search benchmarks (issue 3)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--quick", action="store_true", help="1k only (what make bench runs)")
    parser.add_argument("--queries", type=int, default=240, help="number of queries (≥ 200)")
    parser.add_argument("--publishes", type=int, default=30)
    parser.add_argument("--http-requests", type=int, default=240)
    parser.add_argument(
        "--http-budget",
        type=float,
        default=300.0,
        help="stop HTTP requests after this many seconds (≥ 50 requests)",
    )
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-fts5", action="store_true")
    parser.add_argument("--no-procs2", action="store_true", help="skip the procs=2 rebuild")
    parser.add_argument(
        "--build-procs",
        type=int,
        default=0,
        help="build the index once, with this many processes, and query that one (the 100k "
        "size in half the time; the index is the same single segment either way)",
    )
    parser.add_argument(
        "--breakdown",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="per-document build cost breakdown",
    )
    parser.add_argument(
        "--workdir", default=None, help="where the temporary data folders go (default: system temp)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument(
        "--data",
        default=None,
        help="measure on this prepared data folder (corpus and index, e.g. the one "
        "`bench/ops_bench.py verify --size 100000` leaves in the temp folder) instead of "
        "building one; with --before, the other checkout works on a copy",
    )
    parser.add_argument(
        "--before",
        default=None,
        help="another checkout (with its own .venv) whose search code is measured on the same "
        "index in the same run, e.g. a worktree of main",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="per child process, seconds")
    parser.add_argument(
        "--json", type=Path, default=None, help="default bench/out/search-<date>.json"
    )
    args = parser.parse_args(argv)
    sizes = [1000] if args.quick else [int(x) for x in args.sizes.split(",") if x.strip()]
    if args.queries < 200:
        log(f"note: {args.queries} queries (issue 3 asks for at least 200)")
    queries = build_queries(args.queries)
    log(
        f"{len(queries)} queries (the judged relevance queries, then product/model and "
        f"colloquial variants); sizes {sizes}"
    )
    out = args.json or OUT / f"search-{date.today().isoformat()}.json"
    results = []
    started = time.perf_counter()
    for i, size in enumerate(sizes):
        r = run_size(size, queries, args)
        r["queries"] = queries
        results.append(r)
        save(results, out)
        if i == 0:
            args.breakdown = False  # per-document costs do not depend on the corpus size
    for r in results:
        print(table(r))
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; results in "
        f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}"
    )
    if 100_000 not in sizes:
        print(
            "the 100k size (an hour or more on 2 cores): "
            ".venv/bin/python bench/search_bench.py --sizes 100000"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
