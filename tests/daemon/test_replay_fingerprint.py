"""The replay's results are exactly those recorded in the golden fingerprint files.

The files were first produced on main at 36ab577 (before the speed work of
issue 11) and are regenerated whenever a change moves results on purpose (last:
issue 10's T-bill interest on cash, the 0.5 fill default and the SPX spread
model), by::

    .venv/bin/python benchmarks/replay_fingerprint.py --start 2019-01-02 --end 2019-06-28

It hashes every results row of the run (decisions, orders, order events, fills,
settlements, positions, marks, daily) and the summary; a float that moves in
its last bit changes the hash. ``replay_fingerprint_2007_2024.json`` is the
same for the whole bundle (too slow for the suite; compare it by hand with
``--start 2007-01-03 --end 2024-12-31``).

Both were regenerated on purpose when the replay stopped looking ahead and
began checking stops and targets against the day's range (issue 10, branch
``truth``), and again when closes were allowed to concede to the natural price
of their legs (branch ``exits``, ``[broker] close_concession``), and when
VIX option quotes took the tick grid of their session and a spread model
fitted on all real VIX quotes (branch ``vixspread``), and when the VIX option
model was refitted on the standard monthly class only, without the VIXW
weeklies (branch ``vixmonthly``): results change only on purpose, with the
golden files.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from benchmarks.replay_fingerprint import run

GOLDEN = Path(__file__).parent / "data" / "replay_fingerprint_2019h1.json"


@pytest.fixture(scope="module")
def now() -> dict[str, object]:
    return run(date(2019, 1, 2), date(2019, 6, 28))


def test_every_results_table_matches_the_golden_fingerprint(now: dict[str, object]) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert now["range"] == golden["range"]
    # table by table first, so a failure names the table that changed
    assert now["tables"] == golden["tables"]
    assert now["summary_sha256"] == golden["summary_sha256"]
    assert now["figures"] == golden["figures"]
    assert now["sha256"] == golden["sha256"]


def test_the_golden_range_trades(now: dict[str, object]) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert golden["figures"]["trades_closed"] > 0
    assert golden["tables"]["fills"]["rows"] > 0 and golden["tables"]["decisions"]["rows"] > 0
