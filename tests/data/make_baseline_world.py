"""Makes baseline-world.json: the rows of tests.world.fill on a database at the baseline
schema (0001_baseline), written by the code of that release. Kept to show how the file was
made; it must NOT be re-run on later schemas (the point is to keep the old rows).

    .venv/bin/python tests/data/make_baseline_world.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kb import create_app
from tests.conftest import close, config_for, populate
from tests.world import fill, rows


def main() -> None:
    data_dir = Path(tempfile.mkdtemp()) / "data"
    app = create_app(config_for(data_dir))
    populate(app)
    fill(app)
    found = rows(app.extensions["kb_engine"])
    close(app)

    def plain(value: object) -> object:
        return value.isoformat() if isinstance(value, date | datetime) else value

    out = {
        name: [{k: plain(v) for k, v in row.items()} for row in table]
        for name, table in found.items()
    }
    target = Path(__file__).with_name("baseline-world.json")
    target.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(target, sum(len(t) for t in out.values()), "rows")


if __name__ == "__main__":
    main()
