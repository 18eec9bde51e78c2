"""Relevance of kb search: our own set (sample articles) or the external set (pages not ours).

    .venv/bin/python bench/relevance/run.py            # --set own: bench/relevance/queries.yaml
    .venv/bin/python bench/relevance/run.py --all      # also list every query, not only the worst
    .venv/bin/python bench/relevance/run.py --set external          # kb + two baselines
    .venv/bin/python bench/relevance/run.py --set external --pool   # + write unjudged pool files
    .venv/bin/python bench/relevance/run.py --set external --merge  # graded pool → judgments

``--set external`` is described in ``external_eval.py``; the rest of this text is ``--set own``:

A fresh data folder (a temporary KB_DATA_DIR) gets the articles of ``articles/`` imported and
published through ``kb.importer`` (as ``kb init --demo`` does), the index is built with
``kb.index.writer.rebuild``, and every judged query runs through ``kb.index.searcher.search`` —
first as a signed-in curator (sees every article), then as an anonymous reader on the queries
whose judged articles are all public. Grades: 2 = answers the question, 1 = related, unlisted = 0.
nDCG@10 uses gain 2^grade − 1; MRR@10 is the reciprocal rank of the first article graded ≥ 1.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import corpus
import yaml

HERE = Path(__file__).resolve().parent
GROUPS = ("colloquial", "product", "synonym", "pinyin")
GROUP_LABELS = {"colloquial": "口语", "product": "产品/型号", "synonym": "同义词", "pinyin": "拼音"}
K = 10


def infer_group(query: str) -> str:
    """For queries written without a ``group``: pinyin, product/model, or colloquial."""
    words = query.split()
    if query.isascii() and len(words) > 1 and all(w.isalpha() and w.islower() for w in words):
        return "pinyin"
    if any(ch.isascii() and ch.isalnum() for ch in query):
        return "product"
    return "colloquial"


def load_queries(path: Path) -> list[dict[str, Any]]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = {p.stem for p in corpus.ARTICLES.glob("*.md")}
    out = []
    for e in entries:
        missing = [s for s in e["relevant"] if s not in known]
        if missing:
            raise SystemExit(f"{path}: query {e['query']!r} judges unknown slugs {missing}")
        out.append(
            {
                "query": str(e["query"]),
                "group": e.get("group") or infer_group(str(e["query"])),
                "relevant": {str(k): int(v) for k, v in e["relevant"].items()},
            }
        )
    return out


def ndcg(ranked: list[str], rel: dict[str, int], k: int = K) -> float:
    dcg = sum((2 ** rel.get(s, 0) - 1) / math.log2(i + 2) for i, s in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def reciprocal_rank(ranked: list[str], rel: dict[str, int], k: int = K) -> float:
    for i, slug in enumerate(ranked[:k]):
        if rel.get(slug, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def build(data_dir: Path) -> tuple[Any, dict[str, Any]]:
    """App on a fresh data folder with the sample articles published and indexed."""
    app = corpus.make_app(data_dir)
    with app.app_context():
        from kb import db, importer
        from kb.accounts import SYSTEM
        from kb.index import writer

        db.ensure_schema()
        s = db.session()
        corpus.seed_accounts(s)
        started = time.perf_counter()
        # force: a checker rule still being tuned must not silently drop a judged article
        results = importer.import_paths(
            s, SYSTEM, [str(corpus.ARTICLES)], enterprise_code="demo", publish=True, force=True
        )
        imported = time.perf_counter() - started
        failed = [r.path for r in results if r.outcome == "failed"]
        with_errors = [r.slug for r in results if any(f["severity"] == "error" for f in r.findings)]
        started = time.perf_counter()
        info = writer.rebuild(s)
        setup = {
            "articles": len(results),
            "failed": failed,
            "published_despite_checker_errors": with_errors,
            "import_seconds": round(imported, 2),
            "index_seconds": round(time.perf_counter() - started, 2),
            "indexed": info["documents"],
        }
    return app, setup


def evaluate(app: Any, queries: list[dict[str, Any]]) -> dict[str, Any]:
    with app.app_context():
        from sqlalchemy import select

        from kb import db
        from kb.index import searcher
        from kb.models import Article
        from kb.permissions import policy

        s = db.session()
        curator = corpus.user(s, "curator")
        staff_terms = policy.visible_terms(curator)
        public = {a.slug for a in s.scalars(select(Article).where(Article.visibility == "public"))}
        titles = {a.slug: a.title for a in s.scalars(select(Article))}
        runs: dict[str, list[dict[str, Any]]] = {"curator": [], "anonymous": []}
        for as_who, terms in (("curator", staff_terms), ("anonymous", policy.visible_terms(None))):
            for q in queries:
                if as_who == "anonymous" and not set(q["relevant"]) <= public:
                    continue
                started = time.perf_counter()
                page = searcher.search(q["query"], terms, s, per_page=K)
                ms = (time.perf_counter() - started) * 1000
                ranked = [h.slug for h in page.hits]
                best = max(q["relevant"], key=lambda slug: q["relevant"][slug])
                runs[as_who].append(
                    {
                        **q,
                        "ndcg": ndcg(ranked, q["relevant"]),
                        "rr": reciprocal_rank(ranked, q["relevant"]),
                        "total": page.total,
                        "top": ranked[:K],
                        "first_title": titles.get(ranked[0], "") if ranked else "",
                        "best": best,
                        "best_rank": ranked.index(best) + 1 if best in ranked else None,
                        "words": searcher.parse(q["query"]).words,
                        "suggestion": page.suggestion,
                        "ms": ms,
                    }
                )
    return runs


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def agg(sub: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(sub)
        return {
            "queries": n,
            "ndcg@10": round(sum(r["ndcg"] for r in sub) / n, 3) if n else None,
            "mrr@10": round(sum(r["rr"] for r in sub) / n, 3) if n else None,
            "best_first": sum(1 for r in sub if r["best_rank"] == 1),
            "nothing_relevant": sum(1 for r in sub if r["rr"] == 0),
            "no_results": sum(1 for r in sub if r["total"] == 0),
        }

    out = {"all": agg(rows)}
    for g in GROUPS:
        out[g] = agg([r for r in rows if r["group"] == g])
    return out


def print_summary(title: str, stats: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(
        f"  {'group':<12}{'queries':>8}{'nDCG@10':>9}{'MRR@10':>8}"
        f"{'best@1':>8}{'none@10':>9}{'empty':>7}"
    )
    for name, st in stats.items():
        if not st["queries"]:
            continue
        label = "ALL" if name == "all" else f"{name}"
        print(
            f"  {label:<12}{st['queries']:>8}{st['ndcg@10']:>9.3f}{st['mrr@10']:>8.3f}"
            f"{st['best_first']:>8}{st['nothing_relevant']:>9}{st['no_results']:>7}"
        )


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    for r in rows:
        first = r["top"][0] if r["top"] else "（无结果）"
        rank = r["best_rank"] or "—"
        print(f"  nDCG {r['ndcg']:.2f}  RR {r['rr']:.2f}  [{r['group']}] {r['query']}")
        print(f"      expected {r['best']} at rank {rank}; first: {first} {r['first_title'][:40]}")
        print(
            f"      analysed words: {' | '.join(r['words']) or '（无）'}; hits {r['total']}", end=""
        )
        print(f"; suggestion {r['suggestion']!r}" if r["suggestion"] else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=Path, default=HERE / "queries.yaml")
    parser.add_argument(
        "--worst", type=int, default=10, help="how many of the worst queries to list"
    )
    parser.add_argument("--all", action="store_true", help="list every query")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write results here (default bench/out/relevance-<date>.json)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument(
        "--set",
        choices=("own", "external"),
        default="own",
        help="own: queries.yaml over articles/; external: queries-external.yaml over the "
        "external corpus, with the Whoosh and FTS5 baselines",
    )
    parser.add_argument(
        "--pool", action="store_true", help="external: write unjudged results to pool/part-*.jsonl"
    )
    parser.add_argument(
        "--merge", action="store_true", help="external: first move graded pool lines to judgments"
    )
    parser.add_argument(
        "--rebuild-corpus", action="store_true", help="external: rebuild the corpus first"
    )
    parser.add_argument(
        "--pool-also",
        type=Path,
        nargs="*",
        default=[],
        metavar="JSON",
        help="external: also pool the kb top 10s of these result files (another checkout's run)",
    )
    args = parser.parse_args(argv)
    if args.set == "external":
        import external_eval

        return external_eval.main(args)

    started = time.perf_counter()
    queries = load_queries(args.queries)
    data_dir = Path(tempfile.mkdtemp(prefix="kb-relevance-"))
    try:
        print(
            f"relevance: {len(queries)} judged queries from {args.queries.name}; "
            f"data dir {data_dir}"
        )
        app, setup = build(data_dir)
        print(
            f"  imported {setup['articles']} articles in {setup['import_seconds']} s "
            f"(failed {len(setup['failed'])}, published despite checker errors "
            f"{len(setup['published_despite_checker_errors'])}), indexed {setup['indexed']} "
            f"in {setup['index_seconds']} s"
        )
        if setup["failed"]:
            print("  FAILED to import:", ", ".join(setup["failed"]))
        runs = evaluate(app, queries)
        app.extensions["kb_engine"].dispose()
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    curator, anonymous = runs["curator"], runs["anonymous"]
    stats = {"curator": summary(curator), "anonymous": summary(anonymous)}
    print_summary("as a signed-in curator (sees every article):", stats["curator"])
    print_summary(
        "as an anonymous reader (only queries whose judged articles are all public):",
        stats["anonymous"],
    )
    worst = sorted(curator, key=lambda r: (r["ndcg"], r["rr"]))[: args.worst]
    print_rows(f"worst {len(worst)} queries (curator):", worst)
    if args.all:
        print_rows("every query (curator):", curator)
    ms = sorted(r["ms"] for r in curator)
    seconds = time.perf_counter() - started
    print(
        f"\nquery time on 46 articles: median {ms[len(ms) // 2]:.1f} ms, max {ms[-1]:.1f} ms; "
        f"run took {seconds:.1f} s"
    )

    out = args.json or corpus.ROOT / "bench" / "out" / f"relevance-{date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": date.today().isoformat(), "setup": setup, "summary": stats, "queries": runs}
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    print(
        f"results written to "
        f"{out.relative_to(corpus.ROOT) if out.is_relative_to(corpus.ROOT) else out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
