"""Spot-check of the first external judgments: a seeded sample re-read with more of each page.

    .venv/bin/python bench/relevance/external/spotcheck.py draw     # writes pool/spotcheck.jsonl
    .venv/bin/python bench/relevance/external/spotcheck.py apply    # re-grades → judgments file

The first judge graded the pairs found at ranks 4–10 (commit 87fb6cf: judgment lines 1622–4351)
from the title and a short opening. ``draw`` takes, with seed 8, 300 of those graded 0 and 100 of
those graded 1 or 2 and writes them with title, breadcrumb, headings and the first 600 characters
of the text, ``"old"`` (the first grade) and ``"grade": null``. A second judge re-reads each and
fills in ``grade``. ``apply`` appends a judgment line for every pair whose grade changed (a later
line overrides an earlier one), and prints the agreement.
"""

from __future__ import annotations

import json
import random
import re
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REL = HERE.parent
sys.path.insert(0, str(REL))

import external_eval  # noqa: E402

FIRST_BATCH = (1621, 4351)  # 0-based line range of the ranks-4-10 judgments
OUT = REL / "pool" / "spotcheck.jsonl"
SEED = 8


def draw() -> int:
    lines = external_eval.JUDGMENTS.read_text(encoding="utf-8").splitlines()
    batch = [json.loads(x) for x in lines[FIRST_BATCH[0] : FIRST_BATCH[1]]]
    zeros = [j for j in batch if j["grade"] == 0]
    pos = [j for j in batch if j["grade"] in (1, 2)]
    rng = random.Random(SEED)
    sample = rng.sample(zeros, 300) + rng.sample(pos, min(100, len(pos)))
    docs = {p.stem: external_eval.parse_article(p) for p in external_eval.CORPUS.glob("*.md")}
    groups = {q["query"]: q["group"] for q in external_eval.load_queries()}
    with OUT.open("w", encoding="utf-8") as f:
        for j in sample:
            d = docs[j["slug"]]
            row = {
                "query": j["query"],
                "group": groups.get(j["query"], "?"),
                "slug": j["slug"],
                "title": d["title"],
                "path": d["summary"],
                "headings": d["headings"][1:12],
                "text": re.sub(r"\s+", " ", d["body"])[:600],
                "old": j["grade"],
                "grade": None,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(sample)


def apply(judge: str, how: str) -> None:
    rows = [json.loads(x) for x in OUT.read_text(encoding="utf-8").splitlines() if x.strip()]
    done = [r for r in rows if r["grade"] in (0, 1, 2)]
    changed = [r for r in done if r["grade"] != r["old"]]
    with external_eval.JUDGMENTS.open("a", encoding="utf-8") as f:
        for r in changed:
            line = {
                "query": r["query"],
                "slug": r["slug"],
                "grade": r["grade"],
                "judge": judge,
                "how": how + f" (spot-check; first grade {r['old']})",
                "date": date.today().isoformat(),
            }
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    for old in (0, 1, 2):
        sub = [r for r in done if r["old"] == old]
        ch = [r for r in sub if r["grade"] != old]
        print(f"first grade {old}: {len(sub)} re-read, {len(ch)} changed", end="")
        moves: dict[int, int] = {}
        for r in ch:
            moves[r["grade"]] = moves.get(r["grade"], 0) + 1
        print(" " + ", ".join(f"→{g}: {n}" for g, n in sorted(moves.items())) if ch else "")
    agree = len(done) - len(changed)
    print(f"agreement {agree}/{len(done)} = {agree / len(done):.1%}; {len(changed)} lines appended")


if __name__ == "__main__":
    if sys.argv[1:2] == ["draw"]:
        print(f"{draw()} pairs written to {OUT}")
    elif sys.argv[1:2] == ["apply"]:
        apply(
            "i8-eval helper 2",
            "re-read title, breadcrumb, headings and the first 600 characters of the text",
        )
    else:
        raise SystemExit(__doc__)
