"""Block bootstrap, the claim's verdict and the CNDR comparison on synthetic numbers."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from daemon.study.bootstrap import (
    Interval,
    paired_interval,
    relative_vol_difference,
    stationary_indices,
    vol_difference,
)
from daemon.study.claim import check_claim, verdict_for
from daemon.study.cndr import compare_monthly


def test_stationary_indices_run_in_blocks_of_the_mean_length() -> None:
    rng = np.random.default_rng(1)
    idx = stationary_indices(1000, 50, 20.0, rng)
    assert idx.shape == (50, 1000)
    assert idx.min() >= 0 and idx.max() < 1000
    steps = np.diff(idx, axis=1)
    continues = (steps == 1) | (steps == -999)  # next session, or the wrap-around
    # a new block starts with probability 1/20 (a random start may also continue by chance)
    assert 1.0 - continues.mean() == pytest.approx(1 / 20, abs=0.01)


def test_paired_interval_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    b = rng.normal(0, 0.01, 2000)
    a = 0.8 * b  # 20% less volatile on every session
    first = paired_interval(a, b, relative_vol_difference, samples=300, seed=5)
    again = paired_interval(a, b, relative_vol_difference, samples=300, seed=5)
    assert first == again
    assert first.estimate == pytest.approx(-0.2)
    assert first.low == pytest.approx(-0.2) and first.high == pytest.approx(-0.2)
    noisy = paired_interval(a + rng.normal(0, 0.002, 2000), b, vol_difference, samples=300)
    assert noisy.low < noisy.estimate < noisy.high


def _interval(est: float, lo: float, hi: float) -> Interval:
    return Interval(est, lo, hi, 0.95, 100, 21, 1)


@pytest.mark.parametrize(
    ("est", "lo", "hi", "verdict"),
    [
        (-0.21, -0.24, -0.19, "supported"),
        (-0.21, -0.30, -0.10, "consistent"),
        (-0.02, -0.08, 0.04, "not supported: less reduction than claimed"),
        (-0.40, -0.50, -0.30, "not supported: more reduction than claimed"),
        (-0.12, -0.20, -0.05, "inconclusive"),
    ],
)
def test_claim_verdicts(est: float, lo: float, hi: float, verdict: str) -> None:
    assert verdict_for(_interval(est, lo, hi)) == verdict


def test_claim_uses_only_high_vix_sessions() -> None:
    rng = np.random.default_rng(11)
    b = rng.normal(0, 0.01, 600)
    high = np.zeros(600, dtype=bool)
    high[100:200] = True
    a = b.copy()
    a[high] *= 0.78  # 22% less volatile above VIX 30 only
    test = check_claim(a, b, high, samples=200, block_length=10, seed=1)
    assert test.sessions == 100
    assert test.difference is not None
    assert test.difference.estimate == pytest.approx(-0.22)
    assert test.verdict == "supported"
    assert "VIX close above 30" in test.sentence()
    few = check_claim(a, b, high & (np.arange(600) < 110), samples=50, block_length=10, seed=1)
    assert few.verdict == "untestable"


def _month_ends(n: int) -> list[date]:
    out, d = [], date(2010, 1, 31)
    for _ in range(n):
        out.append(d)
        d = (d + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        d = (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return out


def test_cndr_comparison_of_a_scaled_replica() -> None:
    dates = sorted(set(_month_ends(30)))
    rng = np.random.default_rng(2)
    r_index = rng.normal(0.003, 0.02, len(dates) - 1)
    index = np.concatenate(([100.0], 100.0 * np.cumprod(1 + r_index)))
    replica = np.concatenate(([1e6], 1e6 * np.cumprod(1 + 2 * r_index)))  # twice the size
    cmp = compare_monthly(dates, list(replica), dates, list(index))
    assert len(cmp.months) == len(dates) - 1
    assert cmp.correlation == pytest.approx(1.0)
    assert cmp.vol_ratio == pytest.approx(2.0)
    assert cmp.tracking_error == pytest.approx(np.std(r_index, ddof=1) * math.sqrt(12))
    assert cmp.tracking_error_vol_matched == pytest.approx(0.0, abs=1e-12)
    payload = cmp.as_json()
    assert payload["meets_acceptance"] is True
    assert payload["cndr_monthly_correlation"] == pytest.approx(1.0)
    assert len(payload["monthly"]) == len(cmp.months)  # type: ignore[arg-type]
    gaps = payload["largest_gaps"]
    assert isinstance(gaps, list) and len(gaps) == 10
    assert abs(gaps[0]["replica"] - gaps[0]["index"]) >= abs(
        gaps[-1]["replica"] - gaps[-1]["index"]
    )
