"""What a replay job sees of its session at its fire time (daemon.marketdata.visibility)."""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, time

import pytest

from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK
from daemon.marketdata.loader import load_history
from daemon.marketdata.signal_source import BundleSignalSource
from daemon.marketdata.visibility import (
    Phase,
    phase_at,
    session_range,
    visible_context,
    visible_signal_row,
)

DAY = date(2020, 3, 16)  # VIX 82.69 close, SPX -12%: open and close far apart


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), NEW_YORK)


def test_phase_of_the_fire_time_follows_the_open_and_the_close_early_closes_included() -> None:
    cal = default_calendar()
    assert phase_at(_at(DAY, 9, 0), cal.session_close(DAY)) is Phase.PRE_OPEN
    assert phase_at(_at(DAY, 9, 40), cal.session_close(DAY)) is Phase.OPEN
    assert phase_at(_at(DAY, 15, 45), cal.session_close(DAY)) is Phase.OPEN
    assert phase_at(_at(DAY, 16, 0), cal.session_close(DAY)) is Phase.CLOSE
    assert phase_at(_at(DAY, 16, 15), None) is Phase.CLOSE
    early = date(2019, 11, 29)  # closes 13:00 ET
    assert phase_at(_at(early, 12, 30), cal.session_close(early)) is Phase.OPEN
    assert phase_at(_at(early, 16, 15), cal.session_close(early)) is Phase.CLOSE


def test_before_the_close_a_job_sees_the_open_and_the_previous_closes_and_settlements() -> None:
    h = load_history()
    i = h.index_of(DAY)
    seen = visible_context(h, i, Phase.OPEN)
    prev = h.context(i - 1)
    assert seen.session == DAY
    assert seen.spx == h.spx_open[i] and seen.vix == h.vix_open[i]
    assert seen.vix9d == h.vix9d_open[i] and seen.vix3m == h.vix3m_open[i]
    assert seen.vvix == prev.vvix and seen.skew == prev.skew
    assert (seen.advancing, seen.declining) == (prev.advancing, prev.declining)
    assert seen.vix_futures == {e: p for e, p in prev.vix_futures.items() if e > DAY}
    assert seen.vix != h.context(i).vix  # the close (82.69) is not visible
    pre = visible_context(h, i, Phase.PRE_OPEN)
    assert (pre.spx, pre.vix, pre.session) == (prev.spx, prev.vix, DAY)
    assert visible_context(h, i, Phase.CLOSE) == h.context(i)


def test_close_only_opens_fall_back_to_the_previous_close() -> None:
    h = load_history()
    i = h.index_of(date(2011, 1, 5))  # early VIX9D rows carry only a close
    assert math.isnan(h.vix9d_open[i])
    assert visible_context(h, i, Phase.OPEN).vix9d == h.vix9d[i - 1]


def test_signal_window_row_of_the_session_is_what_is_visible_at_the_clock() -> None:
    h = load_history()
    i = h.index_of(DAY)
    now = [_at(DAY, 15, 40)]
    source = BundleSignalSource(h, lambda: now[0], default_calendar().session_close)
    before = asyncio.run(source.window(DAY, rows=30))
    assert before.vix[-1] == h.vix_open[i] and before.spx[-1] == h.spx_open[i]
    assert before.vvix[-1] == h.vvix[i - 1]
    assert before.vix_m1[-1] == h.futures[i - 1, 0]
    assert before.vix[-2] == h.vix_close[i - 1]  # earlier rows are whole closes
    row = visible_signal_row(h, i, Phase.OPEN)
    assert row.vix == before.vix[-1]
    now[0] = _at(DAY, 16, 15)
    after = asyncio.run(source.window(DAY, rows=30))
    assert after.vix[-1] == h.vix_close[i] and after.vvix[-1] == h.vvix[i]


def test_session_range_holds_the_open_and_close_and_the_vix_high() -> None:
    h = load_history()
    i = h.index_of(DAY)
    rng = session_range(h, i)
    assert rng is not None
    assert rng.spx_low == pytest.approx(min(h.spx_low[i], h.spx_close[i], h.spx_open[i]))
    assert rng.spx_high == pytest.approx(h.spx_high[i])
    assert rng.vix_high >= h.vix_close[i]
