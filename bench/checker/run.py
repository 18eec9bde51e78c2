"""Precision and recall of the content checker per rule family, on the labelled set.

Each case lists the rules that must fire on it (its injected defects; none for a good article).
A rule that fires on a case where it is not labelled is a false positive; a labelled rule that
does not fire is a false negative. Counts are per case and rule, so ten findings of one rule on
one case count once.

    .venv/bin/python bench/checker/run.py [-v]      (build the set first: build_cases.py)
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from kb.checker import CheckContext, Published, similarity  # noqa: E402
from kb.checker.batch import check_files, slug_of  # noqa: E402
from kb.checker.registry import FAMILIES  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGETS = {"KB-PRIV": 1.0, "KB-SAFE": 1.0}  # recall targets; 0.9 elsewhere


def main(verbose: bool = False) -> int:
    spec = json.loads((HERE / "labels.json").read_text(encoding="utf-8"))
    cases = HERE / "cases"
    articles = ROOT / "articles"
    th = CheckContext().thresholds
    published = []
    for slug in spec["published"]:
        text = (articles / f"{slug}.md").read_text(encoding="utf-8")
        body = text.split("\n---\n", 1)[1]
        sig = similarity.text_signature(body, shingle=th.duplicate_shingle, size=th.minhash_size)
        published.append(Published(slug, slug, sig))
    known = {p.stem for p in articles.glob("*.md")} | {slug_of(p) for p in cases.glob("*.md")}
    base = CheckContext(
        today=date.fromisoformat(spec["today"]), known_slugs=known, published=published
    )
    files = [cases / name for name in spec["cases"]]
    started = time.perf_counter()
    results = check_files(files, base)
    elapsed = time.perf_counter() - started
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for path, report in results:
        expected = set(spec["cases"][path.name])
        found = {f.rule for f in report.findings}
        for rule in expected | found:
            family = rule.rsplit("-", 1)[0]
            if rule in expected and rule in found:
                tp[family] += 1
            elif rule in found:
                fp[family] += 1
                if verbose:
                    detail = next(f for f in report.findings if f.rule == rule)
                    print(f"  FP {path.name}: {rule} 第{detail.line}行 {detail.message[:60]}")
            else:
                fn[family] += 1
                if verbose:
                    print(f"  FN {path.name}: {rule}")
    good = sum(1 for labels in spec["cases"].values() if not labels)
    print(
        f"labelled set: {len(files)} articles ({good} good, {len(files) - good} with defects); "
        f"checked in {elapsed:.2f} s"
    )
    print(f"{'family':<10} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>8}  target")
    ok = True
    for family in FAMILIES:
        t, p, n = tp[family], fp[family], fn[family]
        precision = t / (t + p) if t + p else 1.0
        recall = t / (t + n) if t + n else 1.0
        target = TARGETS.get(family, 0.9)
        met = recall >= target
        ok = ok and met
        print(
            f"{family:<10} {t:>4} {p:>4} {n:>4} {precision:>10.1%} {recall:>8.1%}  "
            f"recall ≥ {target:.0%} {'ok' if met else 'MISSED'}"
        )
    errors_on_samples = [
        path.name
        for path, report in check_files(sorted(articles.glob("*.md")), base)
        if report.has_errors
    ]
    print(
        f"sample articles with an error finding: {len(errors_on_samples)} {errors_on_samples or ''}"
    )
    return 0 if ok and not errors_on_samples else 1


if __name__ == "__main__":
    sys.exit(main("-v" in sys.argv))
