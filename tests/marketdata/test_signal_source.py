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
