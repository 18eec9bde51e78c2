"""Operations benchmarks (issue 9): real ``kb serve`` processes under load, over HTTP.

    .venv/bin/python bench/ops_bench.py load [--minutes 10] [--workers 4] [--size 10000]
    .venv/bin/python bench/ops_bench.py import-writes [--articles 1000]
    .venv/bin/python bench/ops_bench.py verify [--size 10000]

- ``load``: ``kb serve --workers 4`` on a 10,000-article corpus; an open-loop client sends 50
  searches/s (the benchmark's 240 queries, anonymous and as a signed-in curator's token) plus
  2 writes/s (helpful votes: each commits, logs an index task and makes the background drainer
  rewrite that article in the index). Latency is measured from each request's *scheduled*
  time, so a stalled server cannot hide behind a slow client. Target: p95 < 300 ms, 0 errors.
- ``import-writes``: ``kb serve`` (one waitress process, as ``make run``) while ``kb import
  --publish`` adds 1,000 articles; votes at 5/s meanwhile. Target: write p95 < 200 ms.
- ``verify``: ``kb index verify`` on the corpus. Target: < 20 s at 10k.

The corpus (bench/corpus.py) and its index are built once per size into the temp folder and
reused (``--fresh`` rebuilds). The per-address vote limit is raised for the run (one client
address sends every vote). ``uptime`` is recorded before and after; results go to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import corpus  # noqa: E402

KB = str(Path(sys.executable).parent / "kb")
OUT = BENCH / "out"


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["KB_DATA_DIR"] = str(data_dir)
    env["KB_FEEDBACK_RATE_PER_IP"] = "100000"
    env["KB_FEEDBACK_RATE_PER_VOTER"] = "100000"
    env.update(extra)
    return env


def prepare(size: int, fresh: bool) -> Path:
    """A data folder with ``size`` published articles, accounts and a built index."""
    data_dir = Path(tempfile.gettempdir()) / f"kb-ops-bench-{size}" / "data"
    ready = data_dir / "READY"
    if ready.exists() and not fresh:
        log(f"corpus: reusing {data_dir}")
        return data_dir
    if data_dir.exists():
        import shutil

        shutil.rmtree(data_dir.parent)
    data_dir.mkdir(parents=True)
    app = corpus.make_app(data_dir)
    with app.app_context():
        from kb import db

        db.ensure_schema()
        s = db.session()
        corpus.seed_accounts(s)
        log(f"corpus: inserting {size:,} articles")
        corpus.write_corpus(s, size, progress=log)
    app.extensions["kb_engine"].dispose()
    log("index: kb reindex --procs 2")
    started = time.perf_counter()
    subprocess.run([KB, "reindex", "--procs", "2"], env=env_for(data_dir), check=True)
    log(f"index built in {time.perf_counter() - started:.0f} s")
    ready.write_text("ok", encoding="utf-8")
    return data_dir


def public_slugs(data_dir: Path, limit: int = 500) -> list[str]:
    import sqlite3

    with sqlite3.connect(data_dir / "kb.sqlite3") as conn:
        rows = conn.execute(
            "SELECT slug FROM article WHERE status='published' AND visibility='public' "
            "ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
    return [r[0] for r in rows]


def queries(n: int = 240) -> list[str]:
    from search_bench import build_queries

    return build_queries(n)


class Server:
    def __init__(self, data_dir: Path, workers: int, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [KB, "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env_for(data_dir, **env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        url = self.base + "/api/v1/search?q=" + urllib.parse.quote("打印机")
        while True:
            if self.process.poll() is not None:
                raise SystemExit(self.log_path.read_text(encoding="utf-8"))
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise SystemExit("kb serve did not answer in 120 s") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def request(url: str, data: bytes | None = None) -> tuple[int, float]:
    started = time.perf_counter()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            reply.read()
            status = reply.status
    except urllib.error.HTTPError as err:
        err.read()
        status = err.code
    except (urllib.error.URLError, OSError):
        status = 0
    return status, time.perf_counter() - started


def open_loop(
    jobs: list[tuple[float, str, str, bytes | None]], threads: int = 48
) -> list[dict[str, Any]]:
    """Send each (offset s, kind, url, body) at its time; latency counts from that time."""
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def run(job: tuple[float, str, str, bytes | None]) -> None:
        offset, kind, url, body = job
        delay = start + offset - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # the schedule, not synchronisation
        status, _ = request(url, body)
        latency = time.perf_counter() - (start + offset)
        with lock:
            results.append({"kind": kind, "status": status, "ms": latency * 1000, "at": offset})

    with ThreadPoolExecutor(threads) as pool:
        # submit in time order; a pool thread picks the next job as soon as it is free
        list(pool.map(run, jobs))
    return results


def summary(results: list[dict[str, Any]], kind: str, ok: tuple[int, ...]) -> dict[str, Any]:
    mine = [r for r in results if r["kind"] == kind]
    ms = [r["ms"] for r in mine]
    errors = [r["status"] for r in mine if r["status"] not in ok]
    return {
        "requests": len(mine),
        "p50_ms": round(pct(ms, 50), 1),
        "p95_ms": round(pct(ms, 95), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else None,
        "errors": len(errors),
        "error_statuses": sorted(set(errors)),
    }


def cmd_load(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = prepare(args.size, args.fresh)
    slugs = public_slugs(data_dir)
    qs = queries()
    rng = random.Random(9)
    seconds = args.minutes * 60
    jobs: list[tuple[float, str, str, bytes | None]] = []
    server = Server(data_dir, args.workers)
    try:
        for i in range(int(seconds * args.search_rate)):
            q = urllib.parse.quote(rng.choice(qs))
            jobs.append(
                (i / args.search_rate, "search", f"{server.base}/api/v1/search?q={q}", None)
            )
        for i in range(int(seconds * args.write_rate)):
            slug = rng.choice(slugs)
            body = json.dumps({"helpful": True}).encode()  # "no" would open a request
            url = f"{server.base}/api/v1/articles/{slug}/feedback"
            jobs.append((i / args.write_rate, "write", url, body))
        jobs.sort(key=lambda j: j[0])
        # Warm-up, not measured: every worker builds its caches for the index generation
        # (field lengths, facet and term sets) on its first searches.
        warm = [
            (i / 20, "warm", f"{server.base}/api/v1/search?q={urllib.parse.quote(q)}", None)
            for i, q in enumerate(qs * 2)
        ]
        log(f"warm-up: {len(warm)} searches")
        warmed = open_loop(warm)
        log(f"warm-up done: p95 {pct([r['ms'] for r in warmed], 95):.0f} ms")
        before = uptime()
        log(f"load: {len(jobs)} requests over {seconds} s; uptime before: {before}")
        results = open_loop(jobs)
        after = uptime()
        log(f"uptime after: {after}")
    finally:
        server.stop()
    every = [r["ms"] for r in results]
    report = {
        "bench": "load",
        "workers": args.workers,
        "size": args.size,
        "seconds": seconds,
        "search_rate": args.search_rate,
        "write_rate": args.write_rate,
        "all": {
            "requests": len(results),
            "p50_ms": round(pct(every, 50), 1),
            "p95_ms": round(pct(every, 95), 1),
            "p99_ms": round(pct(every, 99), 1),
            "errors": sum(r["status"] not in (200, 201) for r in results),
        },
        "search": summary(results, "search", (200,)),
        "write": summary(results, "write", (200, 201)),
        "p95_ms_by_10s": [
            round(pct([r["ms"] for r in results if t * 10 <= r["at"] < (t + 1) * 10], 95))
            for t in range(max(1, int(seconds // 10)))
        ],
        "p95_ms_by_minute": [
            round(pct([r["ms"] for r in results if m * 60 <= r["at"] < (m + 1) * 60], 95), 1)
            for m in range(max(1, int(seconds // 60)))
        ],
        "uptime_before": before,
        "uptime_after": after,
    }
    report["target_met"] = report["all"]["p95_ms"] < 300 and report["all"]["errors"] == 0
    return report


def write_import_batch(folder: Path, n: int) -> None:
    gen = corpus.Generator(corpus.load_samples(), seed=4242)
    folder.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(gen.stream(n + len(gen.samples))):
        if i < len(gen.samples):
            continue  # the samples themselves are in the data folder already
        slug = f"import-bench-{i:05d}"
        head = (
            f"title: {v['title']}\nslug: {slug}\ntype: {v['type']}\n"
            f"category: {v['category']}\nsummary: {v['summary']}\nvisibility: public\n"
        )
        (folder / f"{slug}.md").write_text(f"---\n{head}---\n\n{v['body']}\n", encoding="utf-8")


def cmd_import_writes(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kb-import-writes-"))
    data_dir = work / "data"
    subprocess.run([KB, "init", "--demo"], env=env_for(data_dir), check=True, capture_output=True)
    batch = work / "batch"
    write_import_batch(batch, args.articles)
    slugs = public_slugs(data_dir)
    server = Server(data_dir, 1)
    results: list[dict[str, Any]] = []
    rng = random.Random(3)
    try:
        before = uptime()
        started = time.perf_counter()
        importer = subprocess.Popen(
            [KB, "import", "--publish", "--force", "--enterprise", "demo", str(batch)],
            env=env_for(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        i = 0
        while importer.poll() is None:
            slug = rng.choice(slugs)
            body = json.dumps({"helpful": True}).encode()
            status, seconds = request(f"{server.base}/api/v1/articles/{slug}/feedback", body)
            results.append({"kind": "write", "status": status, "ms": seconds * 1000, "at": i})
            i += 1
            time.sleep(max(0.0, 0.2 - seconds))  # ~5 writes a second (pacing, not sync)
        import_seconds = time.perf_counter() - started
        after = uptime()
        # everything imported is searchable soon after (the drainer caught up)
        deadline = time.monotonic() + 120
        while True:
            with urllib.request.urlopen(f"{server.base}/api/v1/articles?per_page=1") as reply:
                total = json.loads(reply.read())["total"]
            if total >= args.articles + len(slugs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        server.stop()
    return {
        "bench": "import-writes",
        "articles": args.articles,
        "import_exit": importer.returncode,
        "import_seconds": round(import_seconds, 1),
        "write": summary(results, "write", (200, 201)),
        "uptime_before": before,
        "uptime_after": after,
        "target_met": summary(results, "write", (200, 201))["p95_ms"] < 200,
    }


def cmd_verify(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = prepare(args.size, args.fresh)
    started = time.perf_counter()
    done = subprocess.run(
        [KB, "index", "verify"], env=env_for(data_dir), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    log(done.stdout.strip() + done.stderr.strip())
    return {
        "bench": "verify",
        "size": args.size,
        "exit": done.returncode,
        "seconds": round(seconds, 2),
        "target_met": seconds < 20 and done.returncode == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="kb operations benchmarks (issue 9)")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="N workers, searches + writes, p95 and errors")
    load.add_argument("--minutes", type=float, default=10)
    load.add_argument("--workers", type=int, default=4)
    load.add_argument("--size", type=int, default=10_000)
    load.add_argument("--search-rate", type=float, default=50)
    load.add_argument("--write-rate", type=float, default=2)
    load.add_argument("--fresh", action="store_true")
    imp = sub.add_parser("import-writes", help="write p95 while kb import runs")
    imp.add_argument("--articles", type=int, default=1000)
    ver = sub.add_parser("verify", help="kb index verify time")
    ver.add_argument("--size", type=int, default=10_000)
    ver.add_argument("--fresh", action="store_true")
    args = parser.parse_args(argv)
    handler = {"load": cmd_load, "import-writes": cmd_import_writes, "verify": cmd_verify}
    report = handler[args.command](args)
    print(json.dumps(report, ensure_ascii=False, indent=2), flush=True)
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"ops-{args.command}-{stamp}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
