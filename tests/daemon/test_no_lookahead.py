"""Acceptance: no replay job uses data stamped after its fire time (issue 10).

A copy of the bundled history is patched so that one session (CRASH) closes
30% below its open with the VIX close (and high) three times its open. The
jobs of that session before the close (entry 15:30, hedge check 15:40,
manage 15:45 ET) must see the open and the previous session's values only;
the mark at 16:15 ET must see the close: first the session's range, now
visible, stops the condor at the stop level (the range reached it), not at
the crash's mark; then the marks value the hedge at the tripled VIX.
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
    exits = [
        (action, inputs)
        for t, rule, action, inputs in seen
        if rule == "condor_exit" and t < "16:00"
    ]
    assert exits, "a condor is held on the crash session"
    for action, inputs in exits:
        assert action == "hold"  # the crash is not visible yet
        assert float(inputs["debit"]) < float(inputs["stop_debit"])  # type: ignore[arg-type]
        assert str(inputs.get("path_session", "")) < CRASH.isoformat()
    assert all(t < "16:00" or rule == "condor_exit" for t, rule, _, _ in seen)


def test_after_the_close_the_range_stops_the_condor_at_its_level_and_the_mark_sees_the_close(
    crash_run: tuple[MarketHistory, int, Path],
) -> None:
    history, i, journal = crash_run
    seen = _decisions(journal, CRASH)
    stops = [
        inputs
        for t, rule, action, inputs in seen
        if rule == "condor_exit" and action == "close" and t == "16:15"
    ]
    assert len(stops) == 1, "the mark job settles the stop the crash's range reached"
    stop = stops[0]
    assert stop["trigger"] == "stop"
    assert stop["path_session"] == CRASH.isoformat()
    assert stop["path_gap"] == 0  # the open was quiet
    assert stop["path_spx_low_vix_high_spx"] == pytest.approx(history.spx_open[i] * 0.70)
    assert stop["path_spx_low_vix_high_vix"] == pytest.approx(history.vix_open[i] * 3.0)
    stop_debit = float(stop["stop_debit"])  # type: ignore[arg-type]
    assert stop["limit_price"] == pytest.approx(stop_debit, abs=0.03)
    db = sqlite3.connect(journal)
    (status, avg) = db.execute(
        "select o.status, o.avg_price from orders o join decisions d on d.id = o.order_ref "
        "where d.rule = 'condor_exit' and d.session = ? and d.action = 'close'",
        (CRASH.isoformat(),),
    ).fetchone()
    assert status == "filled"
    # the stop level plus slippage, far below the crash's own mark
    assert stop_debit - 0.03 <= avg < stop_debit + 1.0 < float(stop["path_worst_debit"])  # type: ignore[arg-type]
    (before,) = db.execute(
        "select hedge_pnl from daily where session = ?", (history.sessions[i - 1].isoformat(),)
    ).fetchone()
    (hedge_pnl, condor_pnl) = db.execute(
        "select hedge_pnl, condor_pnl from daily where session = ?", (CRASH.isoformat(),)
    ).fetchone()
    assert hedge_pnl > before + 1_000  # the VIX calls marked at the tripled close
    # the condor was closed before the mark: its P&L is the stop's planned loss
    # (one credit) plus slippage and commissions, not the crash's
    planned = (stop_debit - float(stop["credit"])) * 100 * int(stop["quantity"])  # type: ignore[arg-type]
    assert -1.1 * planned < condor_pnl < -planned
