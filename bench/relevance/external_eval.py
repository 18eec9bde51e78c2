"""The external relevance set: kb and two stock baselines over Chinese help pages nobody here wrote.

Called by ``bench/relevance/run.py --set external``. One run:

1. builds the corpus if it is missing (``external/build_corpus.py``: apt-get installs the
   Debian packages when run as root) — ``bench/out/external-corpus/``;
2. runs every query of ``queries-external.yaml`` through three systems, top 10 each:
   - **kb**: the corpus imported through ``kb.importer`` (publish, force) into a fresh data
     folder, ``kb.index.writer.rebuild``, ``kb.index.searcher.search`` as the curator;
   - **whoosh**: a plain Whoosh schema (title, headings, body; jieba's stock
     ``ChineseAnalyzer``), ``MultifieldParser`` with ``OrGroup``, default BM25F, no boosts;
   - **fts5**: SQLite FTS5 (unicode61) over jieba ``cut_for_search`` text, the query's words
     ORed, ranked by ``bm25()``;
3. scores them with the judgments of ``judgments-external.jsonl`` (grade 2 = answers the
   question, 1 = related / answers part, 0 = not). A result nobody judged counts 0 and is
   reported as unjudged. Where a query's intended slug has no judgment yet it counts as grade 2
   (the question was written for that page) and the number of such grades is printed.

Metrics per system, overall and per group (answerable queries; unanswerable ones separately):
nDCG@10 (gain 2^g − 1, ideal over every judged grade of the query), MRR@10 (first grade ≥ 1),
P@1 (top result grade 2 = "answers"; P@1≥1 also printed), Recall@10 (of the docs graded ≥ 1),
zero-result rate, unjudged share of the top 10, and kb's ``weak`` flag (``getattr(page,
"weak", None)``; n/a when the searcher has none): share of unanswerable questions flagged and
share of answerable ones flagged.

``--pool`` writes every unjudged (query, slug) of the current top 10s plus intended slugs to
``pool/part-*.jsonl`` for judging (see ``pool/README.md``); ``--merge`` moves graded pool lines
into ``judgments-external.jsonl``. ``--pool-also FILE…`` pools, besides, the kb top 10s of
result files written by another checkout's run (e.g. a ranking branch in progress), so that its
results are judged before it is measured.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "external"))

import build_corpus  # noqa: E402
import corpus  # noqa: E402

QUERIES = HERE / "queries-external.yaml"
JUDGMENTS = HERE / "judgments-external.jsonl"
POOL = HERE / "pool"
CORPUS = build_corpus.DEFAULT_OUT
K = 10
SYSTEMS = ("kb", "whoosh", "fts5")
GROUPS = (
    "colloquial",
    "vocabulary-gap",
    "product",
    "mixed-english",
    "pinyin",
    "typo",
    "unanswerable",
)
POOL_PART = 150  # lines per pool file


# ---- corpus and queries ----


def ensure_corpus(rebuild: bool = False) -> list[Path]:
    if rebuild or not CORPUS.exists() or not any(CORPUS.glob("*.md")):
        print("building the external corpus …", flush=True)
        build_corpus.build(CORPUS)
    return sorted(CORPUS.glob("*.md"))


def parse_article(path: Path) -> dict[str, Any]:
    """Title, headings, summary and plain body of one corpus file (for the baselines and pools)."""
    text = path.read_text(encoding="utf-8")
    _, head, body = text.split("---\n", 2)
    meta = yaml.safe_load(head)
    headings = [ln[3:].strip() for ln in body.splitlines() if ln.startswith("## ")]
    plain = "\n".join(ln for ln in body.splitlines() if not ln.startswith("## "))
    plain = re.sub(r"^(```|~~~~).*$", "", plain, flags=re.M)
    plain = plain.replace("\\", "").replace("`", "").replace("&lt;", "<")
    return {
        "slug": meta["slug"],
        "title": meta["title"],
        "summary": meta.get("summary", ""),
        "headings": headings,
        "body": plain.strip(),
    }


def load_queries() -> list[dict[str, Any]]:
    entries = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    return [
        {
            "query": str(e["query"]),
            "group": e["group"],
            "intended": list(e.get("intended") or []),
        }
        for e in entries
    ]


def load_judgments() -> dict[tuple[str, str], int]:
    """(query, slug) → grade; a later line overrides an earlier one."""
    out: dict[tuple[str, str], int] = {}
    if JUDGMENTS.exists():
        for line in JUDGMENTS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                j = json.loads(line)
                out[(j["query"], j["slug"])] = int(j["grade"])
    return out


# ---- the three systems ----


def run_kb(paths: list[Path], queries: list[dict[str, Any]]) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="kb-relevance-ext-"))
    try:
        app = corpus.make_app(data_dir)
        with app.app_context():
            from kb import db, importer
            from kb.accounts import SYSTEM
            from kb.index import searcher, writer
            from kb.permissions import policy

            db.ensure_schema()
            s = db.session()
            corpus.seed_accounts(s)
            started = time.perf_counter()
            results = importer.import_paths(
                s, SYSTEM, [str(CORPUS)], enterprise_code="demo", publish=True, force=True
            )
            failed = [(r.path, r.message) for r in results if r.outcome == "failed"]
            imported = time.perf_counter() - started
            started = time.perf_counter()
            info = writer.rebuild(s)
            indexed = time.perf_counter() - started
            terms = policy.visible_terms(corpus.user(s, "curator"))
            runs = {}
            ms = []
            for q in queries:
                t0 = time.perf_counter()
                page = searcher.search(q["query"], terms, s, per_page=K)
                ms.append((time.perf_counter() - t0) * 1000)
                runs[q["query"]] = {
                    "top": [h.slug for h in page.hits][:K],
                    "total": page.total,
                    "weak": getattr(page, "weak", None),
                }
        app.extensions["kb_engine"].dispose()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    ms.sort()
    setup = {
        "imported": len(results) - len(failed),
        "failed": failed,
        "import_seconds": round(imported, 1),
        "index_seconds": round(indexed, 1),
        "indexed": info["documents"],
        "median_ms": round(ms[len(ms) // 2], 1),
    }
    return {"setup": setup, "runs": runs}


def _jieba_words(text: str) -> list[str]:
    import jieba

    return [w.strip().lower() for w in jieba.cut_for_search(text) if re.search(r"\w", w)]


def run_whoosh(docs: list[dict[str, Any]], queries: list[dict[str, Any]]) -> dict[str, Any]:
    """Stock Whoosh + jieba: ChineseAnalyzer on title/headings/body, OR grouping, BM25F."""
    from jieba.analyse import ChineseAnalyzer
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import MultifieldParser, OrGroup

    analyzer = ChineseAnalyzer()
    schema = Schema(
        slug=ID(stored=True, unique=True),
        title=TEXT(analyzer=analyzer),
        headings=TEXT(analyzer=analyzer),
        body=TEXT(analyzer=analyzer),
    )
    folder = Path(tempfile.mkdtemp(prefix="kb-relevance-whoosh-"))
    try:
        started = time.perf_counter()
        ix = index.create_in(str(folder), schema)
        w = ix.writer()
        for d in docs:
            w.add_document(
                slug=d["slug"],
                title=d["title"],
                headings=" ".join([d["summary"], *d["headings"]]),
                body=d["body"],
            )
        w.commit()
        built = time.perf_counter() - started
        parser = MultifieldParser(["title", "headings", "body"], schema, group=OrGroup)
        runs = {}
        with ix.searcher() as searcher:
            for q in queries:
                # the query's own words, so that parser syntax (: ( ) " …) in them cannot misparse
                words = [t.text for t in analyzer(q["query"])]
                words = [re.sub(r"[^\w]", "", x) for x in words]
                text = " ".join(x for x in words if x)
                hits = searcher.search(parser.parse(text), limit=K) if text else []
                top = [h["slug"] for h in hits]
                runs[q["query"]] = {
                    "top": top,
                    "total": len(hits) if not text else hits.scored_length(),
                    "weak": None,
                }
        ix.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"setup": {"index_seconds": round(built, 1)}, "runs": runs}


def run_fts5(docs: list[dict[str, Any]], queries: list[dict[str, Any]]) -> dict[str, Any]:
    """SQLite FTS5 over jieba-segmented text, the query's words ORed, ranked by bm25()."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE doc USING fts5(slug UNINDEXED, title, headings, body)")
    started = time.perf_counter()
    con.executemany(
        "INSERT INTO doc VALUES (?, ?, ?, ?)",
        [
            (
                d["slug"],
                " ".join(_jieba_words(d["title"])),
                " ".join(_jieba_words(" ".join([d["summary"], *d["headings"]]))),
                " ".join(_jieba_words(d["body"])),
            )
            for d in docs
        ],
    )
    built = time.perf_counter() - started
    runs = {}
    for q in queries:
        words = sorted(set(_jieba_words(q["query"])))
        if not words:
            runs[q["query"]] = {"top": [], "total": 0, "weak": None}
            continue
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = con.execute(
            "SELECT slug FROM doc WHERE doc MATCH ? ORDER BY bm25(doc) LIMIT ?", (match, K)
        ).fetchall()
        total = con.execute("SELECT count(*) FROM doc WHERE doc MATCH ?", (match,)).fetchone()[0]
        runs[q["query"]] = {"top": [r[0] for r in rows], "total": total, "weak": None}
    con.close()
    return {"setup": {"index_seconds": round(built, 1)}, "runs": runs}


# ---- metrics ----


def grades_for(q: dict[str, Any], judged: dict[tuple[str, str], int]) -> tuple[dict[str, int], int]:
    """Every known grade of a query's documents, and how many came only from ``intended``."""
    rel = {slug: g for (query, slug), g in judged.items() if query == q["query"]}
    provisional = 0
    for slug in q["intended"]:
        if slug not in rel:
            rel[slug] = 2
            provisional += 1
    return rel, provisional


def score(ranked: list[str], rel: dict[str, int]) -> dict[str, float]:
    top = ranked[:K]
    dcg = sum((2 ** rel.get(s, 0) - 1) / math.log2(i + 2) for i, s in enumerate(top))
    ideal = sorted((g for g in rel.values() if g > 0), reverse=True)[:K]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    rr = next((1 / (i + 1) for i, s in enumerate(top) if rel.get(s, 0) >= 1), 0.0)
    relevant = {s for s, g in rel.items() if g >= 1}
    return {
        "ndcg": dcg / idcg if idcg else 0.0,
        "rr": rr,
        "p1": 1.0 if top and rel.get(top[0], 0) == 2 else 0.0,
        "p1_any": 1.0 if top and rel.get(top[0], 0) >= 1 else 0.0,
        "recall": len(relevant & set(top)) / len(relevant) if relevant else 0.0,
    }


def evaluate(
    queries: list[dict[str, Any]],
    results: dict[str, dict[str, Any]],
    judged: dict[tuple[str, str], int],
) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in results}
    provisional = 0
    for q in queries:
        rel, prov = grades_for(q, judged)
        provisional += prov
        judged_here = {slug for (query, slug) in judged if query == q["query"]}
        for name, res in results.items():
            run = res["runs"][q["query"]]
            top = run["top"]
            row = {
                "query": q["query"],
                "group": q["group"],
                "top": top,
                "total": run["total"],
                "weak": run["weak"],
                "unjudged": sum(1 for s in top if s not in judged_here),
                "answerable": q["group"] != "unanswerable",
            }
            if row["answerable"]:
                row.update(score(top, rel))
                row["has_relevant"] = any(g >= 1 for g in rel.values())
            rows[name].append(row)
    summary = {name: summarise(r) for name, r in rows.items()}
    return {"rows": rows, "summary": summary, "provisional_grades": provisional}


def _agg(sub: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in sub if r["answerable"]]
    una = [r for r in sub if not r["answerable"]]
    n = len(ans)
    shown = sum(len(r["top"]) for r in sub)
    weak_known = [r for r in sub if r["weak"] is not None]

    def mean(key: str) -> float | None:
        return round(sum(r[key] for r in ans) / n, 3) if n else None

    return {
        "queries": len(sub),
        "answerable": n,
        "ndcg@10": mean("ndcg"),
        "mrr@10": mean("rr"),
        "p@1": mean("p1"),
        "p@1>=1": mean("p1_any"),
        "recall@10": mean("recall"),
        "zero_result_answerable": sum(1 for r in ans if not r["top"]),
        "zero_result_rate": round(sum(1 for r in sub if not r["top"]) / len(sub), 3)
        if sub
        else None,
        "unjudged_share": round(sum(r["unjudged"] for r in sub) / shown, 3) if shown else None,
        "unanswerable": len(una),
        "unanswerable_weak": sum(1 for r in una if r["weak"]) if weak_known else None,
        "answerable_weak_share": round(sum(1 for r in ans if r["weak"]) / n, 3)
        if weak_known and n
        else None,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {"all": _agg(rows)}
    for g in GROUPS:
        sub = [r for r in rows if r["group"] == g]
        if sub:
            out[g] = _agg(sub)
    return out


def _f(v: Any, width: int, digits: int = 3) -> str:
    if v is None:
        return f"{'n/a':>{width}}"
    if isinstance(v, float):
        return f"{v:>{width}.{digits}f}"
    return f"{v:>{width}}"


def print_report(ev: dict[str, Any], setup: dict[str, Any]) -> None:
    print(
        f"\n  {'group':<15}{'system':<8}{'n':>4}{'nDCG@10':>9}{'MRR@10':>8}{'P@1':>7}"
        f"{'P@1≥1':>7}{'R@10':>7}{'zero':>6}{'unjdg':>7}{'weak':>9}"
    )
    groups = ["all", *[g for g in GROUPS if g in ev["summary"]["kb"]]]
    for g in groups:
        for name in ev["summary"]:
            st = ev["summary"][name][g]
            if g == "unanswerable":
                weak = (
                    f"{st['unanswerable_weak']}/{st['unanswerable']}"
                    if st["unanswerable_weak"] is not None
                    else "n/a"
                )
                print(
                    f"  {g:<15}{name:<8}{st['queries']:>4}{'':>9}{'':>8}{'':>7}{'':>7}{'':>7}"
                    f"{_f(st['zero_result_rate'], 6, 2)}{_f(st['unjudged_share'], 7, 2)}"
                    f"{weak:>9}"
                )
                continue
            weak = _f(st["answerable_weak_share"], 9, 2)
            if g == "all":
                una = (
                    f" (unanswerable flagged weak: {st['unanswerable_weak']}/{st['unanswerable']})"
                    if st["unanswerable_weak"] is not None
                    else " (weak: n/a — the searcher has no weak flag)"
                )
            print(
                f"  {g:<15}{name:<8}{st['answerable']:>4}{_f(st['ndcg@10'], 9)}"
                f"{_f(st['mrr@10'], 8)}{_f(st['p@1'], 7, 2)}{_f(st['p@1>=1'], 7, 2)}"
                f"{_f(st['recall@10'], 7, 2)}{st['zero_result_answerable']:>6}"
                f"{_f(st['unjudged_share'], 7, 2)}{weak}" + (una if g == "all" else "")
            )
        print()
    print(
        "  n = answerable queries (unanswerable: all of them); zero = answerable queries with no "
        "result (unanswerable: share with none);\n  unjdg = share of the top-10 results nobody has "
        "judged (count as 0); weak = share of answerable queries kb flagged weak.\n"
        f"  grades from judgments: {setup['judged_pairs']} pairs; intended slugs not yet judged, "
        f"counted as grade 2: {ev['provisional_grades']}"
    )


# ---- pooling ----


def other_tops(files: list[Path]) -> dict[str, list[str]]:
    """query → the kb top 10s of result files written by other runs (``--json`` output)."""
    out: dict[str, list[str]] = {}
    for f in files:
        data = json.loads(Path(f).read_text(encoding="utf-8"))
        for row in data["rows"]["kb"]:
            out.setdefault(row["query"], []).extend(row["top"][:K])
    return out


def pool_pairs(
    queries: list[dict[str, Any]],
    results: dict[str, dict[str, Any]],
    judged: dict[tuple[str, str], int],
    also: dict[str, list[str]] | None = None,
) -> list[tuple[dict[str, Any], str]]:
    out = []
    for q in queries:
        seen: list[str] = []
        for slug in q["intended"]:
            if slug not in seen:
                seen.append(slug)
        for name in SYSTEMS:
            if name in results:
                for slug in results[name]["runs"][q["query"]]["top"]:
                    if slug not in seen:
                        seen.append(slug)
        for slug in (also or {}).get(q["query"], []):
            if slug not in seen:
                seen.append(slug)
        out.extend((q, s) for s in seen if (q["query"], s) not in judged)
    return out


def write_pool(pairs: list[tuple[dict[str, Any], str]], docs: dict[str, dict[str, Any]]) -> int:
    """Replace pool/part-*.jsonl with the unjudged pairs, grouped by query, POOL_PART a file."""
    merge_pool()  # grades already written into pool files are kept first
    POOL.mkdir(exist_ok=True)
    for old in POOL.glob("part-*.jsonl"):
        old.unlink()
    parts: list[list[str]] = [[]]
    last_query = None
    for q, slug in pairs:
        # a query's pairs stay in one file where possible, so one judge sees them together
        if len(parts[-1]) >= POOL_PART and q["query"] != last_query:
            parts.append([])
        last_query = q["query"]
        d = docs[slug]
        parts[-1].append(
            json.dumps(
                {
                    "query": q["query"],
                    "group": q["group"],
                    "slug": slug,
                    "title": d["title"],
                    "path": d["summary"],
                    "headings": d["headings"][1:12],
                    "text": re.sub(r"\s+", " ", d["body"])[:400],
                    "grade": None,
                },
                ensure_ascii=False,
            )
        )
    written = 0
    for i, lines in enumerate(p for p in parts if p):
        (POOL / f"part-{i + 1:03d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        written += 1
    return written


def merge_pool(judge: str = "pool") -> int:
    """Append every pool line with a grade (0/1/2) to the judgments file; returns how many."""
    if not POOL.exists():
        return 0
    judged = load_judgments()
    new = []
    for part in sorted(POOL.glob("part-*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            j = json.loads(line)
            if j.get("grade") in (0, 1, 2) and (j["query"], j["slug"]) not in judged:
                new.append(
                    {
                        "query": j["query"],
                        "slug": j["slug"],
                        "grade": j["grade"],
                        "judge": j.get("judge") or judge,
                        "how": j.get("how") or "read title, headings and opening text in the pool",
                        "date": date.today().isoformat(),
                    }
                )
                judged[(j["query"], j["slug"])] = j["grade"]
    if new:
        with JUDGMENTS.open("a", encoding="utf-8") as f:
            for j in new:
                f.write(json.dumps(j, ensure_ascii=False) + "\n")
    return len(new)


# ---- entry point ----


def main(args: Any) -> int:
    started = time.perf_counter()
    if args.merge:
        print(f"merged {merge_pool()} graded pool lines into {JUDGMENTS.relative_to(ROOT)}")
    paths = ensure_corpus(args.rebuild_corpus)
    docs = {d["slug"]: d for d in (parse_article(p) for p in paths)}
    queries = load_queries()
    unknown = sorted({s for q in queries for s in q["intended"] if s not in docs})
    if unknown:
        raise SystemExit(f"{QUERIES.name}: intended slugs not in the corpus: {unknown}")
    judged = load_judgments()
    answerable = sum(1 for q in queries if q["group"] != "unanswerable")
    print(
        f"external set: {len(docs)} articles, {len(queries)} queries ({answerable} answerable, "
        f"{len(queries) - answerable} unanswerable), {len(judged)} judged pairs"
    )
    results: dict[str, dict[str, Any]] = {}
    doc_list = list(docs.values())
    results["kb"] = run_kb(paths, queries)
    kb_setup = results["kb"]["setup"]
    print(
        f"  kb: imported {kb_setup['imported']} (failed {len(kb_setup['failed'])}) in "
        f"{kb_setup['import_seconds']} s, indexed {kb_setup['indexed']} in "
        f"{kb_setup['index_seconds']} s; median query {kb_setup['median_ms']} ms"
    )
    for path, detail in kb_setup["failed"][:5]:
        print(f"    FAILED {path}: {detail}")
    results["whoosh"] = run_whoosh(doc_list, queries)
    results["fts5"] = run_fts5(doc_list, queries)
    setup = {
        "articles": len(docs),
        "judged_pairs": len(judged),
        **{name: r["setup"] for name, r in results.items()},
    }
    ev = evaluate(queries, results, judged)
    print_report(ev, setup)
    also = other_tops(getattr(args, "pool_also", None) or [])
    pairs = pool_pairs(queries, results, judged, also)
    extra = f" + kb top 10s of {len(args.pool_also)} other run(s)" if also else ""
    print(
        f"\n  pool: {len(pairs)} unjudged (query, article) pairs in the three top 10s + intended"
        f"{extra}"
    )
    if args.pool:
        n = write_pool(pairs, docs)
        print(f"  pool written: {n} files in {POOL.relative_to(ROOT)}/ (see README.md there)")
    out = (
        args.json or ROOT / "bench" / "out" / f"relevance-external-{date.today().isoformat()}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": date.today().isoformat(),
        "setup": setup,
        "summary": ev["summary"],
        "provisional_grades": ev["provisional_grades"],
        "rows": ev["rows"],
    }
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"  results written to {shown}; run took {time.perf_counter() - started:.0f} s")
    return 0
