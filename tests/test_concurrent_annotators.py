"""Many annotators on one queue at once: nobody gets an item someone else holds or has labelled.

Runs ``benchmarks/annotators_concurrent.py`` (one process per annotator, each doing what the
annotator's callbacks do, 20 ms at most between actions) on a freshly migrated database: 20
annotators on PostgreSQL, 5 on SQLite, where one writer at a time serialises the claims.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "annotators_concurrent.py"


@pytest.mark.slow
def test_concurrent_annotators_never_share_or_double_an_item(db_url: str) -> None:
    workers = 20 if db_url.startswith("postgresql") else 5
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--url",
            db_url,
            "--workers",
            str(workers),
            "--sqlite-workers",
            str(workers),
            "--items",
            "3000",
            "--duration",
            "8",
            "--think",
            "0.02",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (counts,) = json.loads(result.stdout)["results"].values()
    assert counts["fewest_actions_by_one_annotator"] >= 2, counts  # each of them worked
    assert counts["double_leases"] == 0, counts
    assert counts["items_to_two_or_more"] == 0, counts
    assert counts["handed_out_after_done"] == 0, counts
    assert counts["items_with_duplicate_labels"] == 0, counts
    assert counts["lost_actions"] == 0, counts
    assert counts["refused_actions"] == 0, counts  # nobody's lease ran out in 8 s
