"""Several processes writing at once (web workers, a CLI import) lose no index update.

Whoosh allows one writer at a time; each process here publishes articles and drains the
outbox concurrently with the others, and afterwards the index must match the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import kb_env

WORKER = textwrap.dedent(
    """
    import sys
    from kb import create_app, db
    from kb import articles as ops
    from kb.accounts import SYSTEM, get_org
    from tests.conftest import draft

    worker = int(sys.argv[1])
    app = create_app({"INDEX_LOCK_TIMEOUT": 60})
    with app.app_context():
        s = db.session()
        owner = get_org(s, "demo")
        for i in range(int(sys.argv[2])):
            fields = dict(slug=f"w{worker}-a{i}", title=f"并发写入 工作进程{worker} 第{i}篇")
            article = ops.create(s, SYSTEM, draft(**fields), owner=owner)
            s.flush()
            article.working_revision.state = "submitted"
            article.status = "submitted"
            ops.publish(s, SYSTEM, article)
            ops.commit(s)  # commits, then drains the outbox under the Whoosh lock
    print("done", worker)
    """
)


@pytest.mark.slow
def test_four_writer_processes_lose_no_update(app, app_config, runner):
    from kb.cli import cli

    env = kb_env(Path(app_config["DATA_DIR"]))
    env["PYTHONPATH"] = os.getcwd()
    per_worker = 8
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n), str(per_worker)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        assert "done" in out

    result = runner.invoke(cli, ["index", "verify"])
    assert result.exit_code == 0, result.output
    assert "待处理的索引任务：0" in result.output
    client = app.test_client()
    data = client.get("/api/v1/search", query_string={"q": "并发写入", "per_page": 50}).get_json()
    assert data["total"] == 4 * per_worker
