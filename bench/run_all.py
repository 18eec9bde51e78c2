"""``make bench``: the quick benchmarks, one after another (a few minutes in all).

    .venv/bin/python bench/run_all.py

1. search relevance over the sample articles (bench/relevance/run.py, < 1 min);
2. the content checker's precision and recall (bench/checker/run.py), when that set is present;
3. the search benchmark at 1k articles only (bench/search_bench.py --quick).

The full search benchmark (1k, 10k and 100k articles, ~40 min and more on 2 cores) is not run here:
    .venv/bin/python bench/search_bench.py                      # all three sizes
    .venv/bin/python bench/search_bench.py --sizes 1000,10000   # without 100k
Exit status: non-zero when a step failed to run (not when a figure misses its target).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def step(title: str, args: list[str], timeout: float) -> int:
    print(f"\n===== {title}: {' '.join(args)}", flush=True)
    started = time.perf_counter()
    try:
        code = subprocess.run(
            [sys.executable, *args], cwd=BENCH.parent, timeout=timeout, check=False
        ).returncode
    except subprocess.TimeoutExpired:
        print(f"===== {title}: stopped after {timeout:.0f} s", flush=True)
        return 124
    print(f"===== {title}: exit {code}, {time.perf_counter() - started:.0f} s", flush=True)
    return code


def main() -> int:
    failures: list[str] = []
    if step("relevance", ["bench/relevance/run.py"], 300):
        failures.append("relevance")
    checker = BENCH / "checker" / "run.py"
    # exit 1 there means a recall target was missed: reported, not a failure to run
    if checker.exists() and step("checker", ["bench/checker/run.py"], 600) not in (0, 1):
        failures.append("checker")
    if step("search (1k only)", ["bench/search_bench.py", "--quick"], 1800):
        failures.append("search")
    print("\nThe full search benchmark (10k and 100k articles; 100k builds alone take 10+ min):")
    print("    .venv/bin/python bench/search_bench.py                  # 1k, 10k, 100k")
    print("    .venv/bin/python bench/search_bench.py --sizes 10000    # one size")
    if failures:
        print("failed to run: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
