"""Acceptance: no replay job uses data stamped after its fire time (issue 10).

A copy of the bundled history is patched so that one session (CRASH) closes
30% below its open with the VIX close (and high) three times its open. The
jobs of that session before the close (entry 15:30, hedge check 15:40,
manage 15:45 ET) must see the open and the previous session's values only;
the mark at 16:15 ET must see the close; the next session's manage sees the
crash in the path since its last check and stops the condor at the stop
level (the range reached it), not at the crash's mark.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import structlog

from daemon.config import AlvhConfig
from daemon.marketdata.loader import MarketHistory, load_history
from daemon.replay import run_replay

START, CRASH, END = date(2019, 4, 1), date(2019, 4, 5), date(2019, 4, 9)


def _crashed(history: MarketHistory, i: int) -> MarketHistory:
    arrays = {
        name: np.array(getattr(history, name))
        for name in ("spx_close", "spx_low", "vix_close", "vix_high", "vvix")
    }
    spx_close = history.spx_open[i] * 0.70
    vix_close = history.vix_open[i] * 3.0
    arrays["spx_close"][i] = spx_close
    arrays["spx_low"][i] = spx_close
    arrays["vix_close"][i] = vix_close
    arrays["vix_high"][i] = vix_close
    arrays["vvix"][i] = history.vvix[i] * 2.0
    return dataclasses.replace(history, **arrays)


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[MarketHistory, int, Path]:
    history = load_history()
    i = history.index_of(CRASH)
    patched = _crashed(history, i)
    journal = tmp_path_factory.mktemp("lookahead") / "j.sqlite"
    asyncio.run(
        run_replay(AlvhConfig(), START, END, journal, structlog.get_logger(), history=patched)
    )
    return history, i, journal


def _decisions(journal: Path, session: date) -> list[tuple[str, str, str, dict[str, object]]]:
    db = sqlite3.connect(journal)
    rows = db.execute(
        "select substr(time, 12, 5), rule, action, inputs_json from decisions "
        "where session = ? order by time, id",
        (session.isoformat(),),
    ).fetchall()
    return [(t, rule, action, json.loads(inputs)) for t, rule, action, inputs in rows]


def test_jobs_before_the_close_see_the_open_and_previous_values(
    crash_run: tuple[MarketHistory, int, Path],
) -> None:
    history, i, journal = crash_run
    seen = _decisions(journal, CRASH)
    entry = [inputs for t, rule, _, inputs in seen if rule == "condor_entry"]
    assert entry and entry[0]["spx"] == pytest.approx(history.spx_open[i])
    assert entry[0]["vix"] == pytest.approx(history.vix_open[i])
    signals = [inputs for _, _, _, inputs in seen if "sig_vix" in inputs]
    assert signals, "the hedge check and manage journal the signals they saw"
    for inputs in signals:
        assert inputs["sig_vix"] == pytest.approx(history.vix_open[i])
    exits = [(t, action, inputs) for t, rule, action, inputs in seen if rule == "condor_exit"]
    assert exits, "a condor is held on the crash session"
    for t, action, inputs in exits:
        assert t == "15:45"
        assert action == "hold"  # the crash is not visible yet
        assert float(inputs["debit"]) < float(inputs["stop_debit"])  # type: ignore[arg-type]
        assert str(inputs.get("path_session", "")) < CRASH.isoformat()
    assert all(t < "16:00" for t, _, _, _ in seen)


def test_the_mark_sees_the_close_and_the_next_manage_stops_at_the_level(
    crash_run: tuple[MarketHistory, int, Path],
) -> None:
    history, i, journal = crash_run
    db = sqlite3.connect(journal)
    (before,) = db.execute(
        "select net_liquidation from daily where session = ?",
        (history.sessions[i - 1].isoformat(),),
    ).fetchone()
    (after, condor_pnl) = db.execute(
        "select net_liquidation, condor_pnl from daily where session = ?",
        (CRASH.isoformat(),),
    ).fetchone()
    assert condor_pnl < -10_000  # marked at the crashed close
    assert after < before - 10_000
    nxt = _decisions(journal, history.sessions[i + 1])
    stops = [
        inputs for _, rule, action, inputs in nxt if rule == "condor_exit" and action == "close"
    ]
    assert stops, "the next session's manage closes the condor on the crash's range"
    stop = stops[0]
    assert stop["path_session"] == CRASH.isoformat()
    assert stop["path_gap"] == 0
    assert stop["path_spx_low_vix_high_spx"] == pytest.approx(history.spx_open[i] * 0.70)
    assert stop["limit_price"] == pytest.approx(float(stop["stop_debit"]), abs=0.03)  # type: ignore[arg-type]
    (status, avg) = db.execute(
        "select o.status, o.avg_price from orders o join decisions d on d.id = o.order_ref "
        "where d.rule = 'condor_exit' and d.session = ? and d.action = 'close'",
        (history.sessions[i + 1].isoformat(),),
    ).fetchone()
    assert status == "filled"
    # the stop level plus slippage, far below the crash's own mark
    assert float(stop["limit_price"]) <= avg < float(stop["path_worst_debit"])  # type: ignore[arg-type]
