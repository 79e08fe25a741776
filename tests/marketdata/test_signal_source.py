"""The replay's signal source: the bundle up to the decision session, never past it."""

from __future__ import annotations

import asyncio
from datetime import date

import numpy as np

from daemon.marketdata.loader import load_history
from daemon.marketdata.signal_source import BundleSignalSource
from strategies.signals import compute_signals


def test_window_ends_at_the_decision_session_and_matches_the_bundle() -> None:
    history = load_history()
    source = BundleSignalSource(history)
    session = date(2020, 3, 16)
    window = asyncio.run(source.window(session, rows=60))
    assert window.dates[-1] == session
    assert len(window) == 60
    i = history.index_of(session)
    assert window.vix[-1] == history.vix_close[i]
    assert window.vix_m1[-1] == history.futures[i, 0]
    assert window.vix_m2[-1] == history.futures[i, 1]
    assert window.dates[0] == history.sessions[i - 59]
    signals = compute_signals(window)
    # 2020-03-16: VIX closed at 82.69, futures deep in backwardation
    assert signals.vix_regime == "stressed"
    assert signals.backwardation and signals.front_second_above


def test_window_before_the_bundle_start_is_shorter_not_padded() -> None:
    history = load_history()
    source = BundleSignalSource(history)
    window = asyncio.run(source.window(history.sessions[3], rows=250))
    assert len(window) == 4
    assert np.all(np.isfinite(window.spx))
    # computed alone: no tails computed ahead for windows cut by the bundle's start
    from strategies.rules import SignalParams

    assert source.indicator_tail(window, SignalParams()) is None


def test_indicator_tails_computed_ahead_are_the_windows_own() -> None:
    """The tails handed out are the one-window values of exactly the window asked for."""
    from datetime import datetime, time

    from daemon.clock import NEW_YORK
    from strategies.rules import SignalParams
    from strategies.signals.hedge_signals import indicator_tail

    history = load_history()
    params = SignalParams()
    sessions = history.sessions[history.index_of(date(2018, 1, 2)) :][:300]
    now = [datetime.combine(sessions[0], time(10, 0), NEW_YORK)]
    for at in (time(10, 0), time(16, 15)):  # open phase, then the close
        source = BundleSignalSource(
            history,
            clock=lambda: now[0],
            session_close=lambda d: datetime.combine(d, time(16, 0), NEW_YORK),
        )
        for session in sessions[::7]:
            now[0] = datetime.combine(session, at, NEW_YORK)
            window = asyncio.run(source.window(session))
            tail = source.indicator_tail(window, params)
            assert tail is not None
            assert repr(tail) == repr(indicator_tail(window, params))
        # a window that differs from the bundle's by one value gets none
        changed = window.vvix.copy()
        changed[100] += 1e-9
        other = type(window).from_arrays(
            window.session, window.dates, vix=window.vix, spx=window.spx, vvix=changed
        )
        assert source.indicator_tail(other, params) is None
