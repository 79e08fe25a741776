"""What a sweep worker's replays share: the values they would compute, keyed by content."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from daemon.config import AlvhConfig, load_config
from daemon.marketdata.signal_memo import SignalMemo
from daemon.replay import ReplayMemo, run_replay
from daemon.sweep.metrics import point_metrics, worker_history
from daemon.sweep.task import _quiet_logger
from strategies.rules import SignalParams
from strategies.signals import SignalHistory, compute_signals

SESSION = date(2024, 6, 14)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield


def _window(vix_last: float = 18.0, n: int = 60) -> SignalHistory:
    rng = np.random.default_rng(7)
    vix = 15.0 + rng.standard_normal(n)
    vix[-1] = vix_last
    days = [SESSION - timedelta(days=n - 1 - i) for i in range(n)]
    return SignalHistory.from_arrays(
        SESSION,
        days,
        vix=vix,
        spx=5000.0 + np.cumsum(rng.standard_normal(n)),
        vvix=90.0 + rng.standard_normal(n),
        advancing=np.full(n, 1600.0),
        declining=np.full(n, 1400.0),
        vix_m1=np.full(n, 16.0),
        vix_m2=np.full(n, 17.0),
    )


def test_memo_gives_compute_signals_values_and_reuses_them_by_content() -> None:
    memo = SignalMemo()
    params = SignalParams()
    first = memo(_window(), params)
    assert first == compute_signals(_window(), params)
    again = memo(_window(), params)  # a new window object with the same rows
    assert again is first and (memo.hits, memo.misses) == (1, 1)


def test_memo_tells_apart_a_changed_value_and_other_parameters() -> None:
    memo = SignalMemo()
    params = SignalParams()
    base = memo(_window(), params)
    moved = memo(_window(vix_last=30.0), params)  # same session and length, one value differs
    assert moved == compute_signals(_window(vix_last=30.0), params)
    assert moved.vix != base.vix
    other = replace(params, rsi_period=params.rsi_period + 3)
    assert memo(_window(), other) == compute_signals(_window(), other)
    assert memo.misses == 3 and memo.hits == 0


def test_memo_is_bounded() -> None:
    memo = SignalMemo(max_entries=2)
    for level in (20.0, 21.0, 22.0):
        memo(_window(vix_last=level), SignalParams())
    assert len(memo) <= 2
    with pytest.raises(ValueError, match="max_entries"):
        SignalMemo(max_entries=0)


def _replay(config: AlvhConfig, path: Path, memo: ReplayMemo | None) -> dict[str, float]:
    start, end = date(2020, 2, 3), date(2020, 4, 30)
    result = asyncio.run(
        run_replay(
            config,
            start,
            end,
            path,
            _quiet_logger(),
            history=worker_history(),
            results_only=True,
            memo=memo,
        )
    )
    return point_metrics(path, result.run_id)


def test_a_replay_with_a_memo_warmed_by_another_point_gives_the_same_metrics(
    tmp_path: Path,
) -> None:
    base = load_config(None)
    other = base.model_copy(update={"condor": base.condor.model_copy(update={"short_delta": 0.12})})
    plain = _replay(base, tmp_path / "plain.sqlite", None)
    memo = ReplayMemo()
    _replay(other, tmp_path / "warm.sqlite", memo)
    surfaces = len(memo.surfaces)
    shared = _replay(base, tmp_path / "shared.sqlite", memo)
    # most windows and surfaces were seen by the other point
    assert memo.signals.hits > 0 and memo.surfaces.hits > 0 and surfaces > 0
    assert plain.keys() == shared.keys()
    for key, value in plain.items():
        assert value == shared[key] or (math.isnan(value) and math.isnan(shared[key])), key
