"""Study metrics against values worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from daemon.study.metrics import (
    MetricsError,
    daily_returns,
    monthly_returns,
    regime_of,
    series_metrics,
    worst_month,
)

# NAV 100 -> 110 -> 99 -> 108.9: returns +10%, -10%, +10%
DATES = [date(2021, 3, 1), date(2021, 3, 2), date(2021, 3, 3), date(2021, 3, 4)]
NAV = [100.0, 110.0, 99.0, 108.9]


def test_overall_metrics_match_hand_values() -> None:
    m = series_metrics(DATES, NAV).regimes["all"]
    sd = math.sqrt(((0.1 - 1 / 30) ** 2 * 2 + (-0.1 - 1 / 30) ** 2) / 2)  # 0.115470
    assert m.n_returns == 3
    assert m.cagr == pytest.approx(1.089 ** (252 / 3) - 1)
    assert m.vol == pytest.approx(sd * math.sqrt(252))  # 1.8330
    assert m.sharpe == pytest.approx((1 / 30) / sd * math.sqrt(252))  # 4.5826
    # downside deviation: sqrt(mean([0, 0.01, 0])) * sqrt(252)
    assert m.sortino == pytest.approx((1 / 30) * 252 / (math.sqrt(0.01 / 3) * math.sqrt(252)))
    assert m.max_drawdown == pytest.approx(-0.1)  # 110 -> 99
    assert m.calmar == pytest.approx(m.cagr / 0.1)
    assert m.cvar95 == pytest.approx(-0.1)  # the worst 5% of 3 returns is the worst one
    assert m.worst_month == pytest.approx(0.089)  # one month: 1.1 * 0.9 * 1.1 - 1


def test_sharpe_is_over_the_previous_sessions_rate() -> None:
    rate = [0.365, 0.0, 0.0, 0.0]  # 36.5% a year = 0.1% a calendar day, seen by the first return
    excess = np.array([0.1 - 0.001, -0.1, 0.1])
    m = series_metrics(DATES, NAV, rate=rate).regimes["all"]
    assert m.sharpe == pytest.approx(excess.mean() / excess.std(ddof=1) * math.sqrt(252))
    assert m.vol == pytest.approx(series_metrics(DATES, NAV).regimes["all"].vol)


def test_missing_rates_carry_forward() -> None:
    r = daily_returns(DATES, NAV, rate=[0.0365, math.nan, math.nan, 0.0])
    assert r.risk_free.tolist() == pytest.approx([0.0001, 0.0001, 0.0001])


def test_risk_free_accrues_over_calendar_days() -> None:
    # Friday -> Monday earns three days, as the replay's cash interest does.
    fri_mon = [date(2021, 3, 5), date(2021, 3, 8), date(2021, 3, 9)]
    r = daily_returns(fri_mon, [100.0, 100.0, 100.0], rate=[0.0365, 0.0365, 0.0365])
    assert r.risk_free.tolist() == pytest.approx([0.0003, 0.0001])


def test_regime_is_the_previous_sessions_vix() -> None:
    vix = [15.0, 35.0, 25.0, 99.0]  # the last close labels nothing (no later return)
    r = daily_returns(DATES, NAV, vix=vix)
    assert r.vix_before.tolist() == [15.0, 35.0, 25.0]
    sm = series_metrics(DATES, NAV, vix=vix)
    assert sm.regimes["<20"].n_returns == 1
    assert sm.regimes[">30"].n_returns == 1
    assert sm.regimes["20-30"].n_returns == 1
    # the >30 day is the 110 -> 99 return
    assert sm.regimes[">30"].worst_month == pytest.approx(-0.1)
    assert math.isnan(sm.regimes[">30"].vol)  # one return: no volatility


@pytest.mark.parametrize(
    ("vix", "label"),
    [(19.99, "<20"), (20.0, "20-30"), (30.0, "20-30"), (30.01, ">30"), (math.nan, None)],
)
def test_regime_bounds(vix: float, label: str | None) -> None:
    assert regime_of(vix) == label


def test_by_year_splits_calendar_years() -> None:
    dates = [date(2020, 12, 30), date(2020, 12, 31), date(2021, 1, 4), date(2021, 1, 5)]
    sm = series_metrics(dates, [100.0, 102.0, 96.9, 101.745])
    assert sorted(sm.years) == [2020, 2021]
    assert sm.years[2020].n_returns == 1
    assert sm.years[2021].n_returns == 2
    assert sm.years[2021].worst_month == pytest.approx(101.745 / 102.0 - 1)


def test_worst_month_compounds_each_month() -> None:
    dates = [date(2022, 1, 31), date(2022, 2, 1), date(2022, 2, 2)]
    # January -5%; February 1.02 * 0.97 - 1 = -1.06%
    assert worst_month(np.array([-0.05, 0.02, -0.03]), dates) == pytest.approx(-0.05)
    assert worst_month(np.array([-0.01, 0.02, -0.03]), dates) == pytest.approx(1.02 * 0.97 - 1)


def test_monthly_returns_use_the_last_level_of_each_month() -> None:
    dates = [date(2022, 1, 10), date(2022, 1, 31), date(2022, 2, 14), date(2022, 3, 1)]
    got = monthly_returns(dates, [90.0, 100.0, 105.0, 99.75])
    assert got == {(2022, 2): pytest.approx(0.05), (2022, 3): pytest.approx(-0.05)}


def test_bad_series_are_refused() -> None:
    with pytest.raises(MetricsError, match="ascending"):
        daily_returns([DATES[1], DATES[0]], [1.0, 2.0])
    with pytest.raises(MetricsError, match="positive"):
        daily_returns(DATES[:2], [1.0, -2.0])
    with pytest.raises(MetricsError, match="same length"):
        daily_returns(DATES, NAV[:2])


def test_json_has_no_nan() -> None:
    sm = series_metrics(DATES[:2], NAV[:2])
    payload = sm.as_json()
    assert payload["regimes"]["all"]["vol"] is None  # type: ignore[index]
