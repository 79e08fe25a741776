"""Cash earns interest: the bundled T-bill series, its conversion, the simulated
broker's accrual and the replay's journal rows (issue 10, deliverable 5)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest

from daemon.brokers.fill_model import SimulationCosts
from daemon.brokers.interest import accrued_interest, fixed_rate
from daemon.brokers.simulated import SimulatedBroker
from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK, VirtualClock
from daemon.marketdata.history import MarketDataError
from daemon.marketdata.tbill import bond_equivalent_yield, cash_rate, load_tbill
from strategies.pricing.market_model import MarketModel
from tests.daemon.test_simulated_broker import FakeHistory


def test_discount_rate_converts_to_the_bond_equivalent_yield() -> None:
    # 365 d / (360 - d t), t = 91: a 5% discount bill yields more than 5%
    assert bond_equivalent_yield(5.0) == pytest.approx(365 * 0.05 / (360 - 0.05 * 91))
    assert bond_equivalent_yield(5.0) == pytest.approx(0.05134, abs=1e-5)
    assert bond_equivalent_yield(0.0) == 0.0
    # actual/365 on the bond-equivalent yield is the same money as actual/360 on the
    # money-market yield 360 d / (360 - d t)
    d = 0.0424
    mmy = 360 * d / (360 - d * 91)
    assert accrued_interest(1e6, bond_equivalent_yield(4.24), 7) == pytest.approx(
        1e6 * mmy * 7 / 360
    )


def test_bundled_dtb3_carries_the_last_value_over_holidays() -> None:
    series = load_tbill()
    assert series.dates[0] == date(2000, 1, 3)
    assert series.discount_on(date(2020, 3, 16)) == 0.24  # SOURCES.md's check value
    # 2000-01-17 (MLK day) is an empty row: the 2000-01-14 value carries
    assert series.discount_on(date(2000, 1, 17)) == series.discount_on(date(2000, 1, 14))
    assert date(2000, 1, 17) not in series.dates
    # after the last row the last value carries too
    assert series.discount_on(date(2026, 7, 1)) == series.discount_pct[-1]
    with pytest.raises(MarketDataError, match=r"starts 2000-01-03.*cash_rate"):
        series.discount_on(date(1999, 12, 31))


def test_cash_rate_setting() -> None:
    start = date(2019, 4, 8)
    rate = cash_rate("tbill", start)
    assert rate is not None and rate(start) == pytest.approx(bond_equivalent_yield(2.38))
    assert cash_rate(0.0, start) is None
    fixed = cash_rate(0.03, start)
    assert fixed is not None and fixed(date(1990, 1, 1)) == 0.03
    with pytest.raises(MarketDataError, match="no T-bill rate on 1995-01-03"):
        cash_rate("tbill", date(1995, 1, 3))


def test_malformed_tbill_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "dtb3.csv"
    bad.write_text("date,dtb3\n2020-01-02,1.5\n2020-01-03,abc\n", encoding="utf-8")
    with pytest.raises(MarketDataError, match=r"dtb3.csv: line 3: column dtb3"):
        load_tbill(bad)


def _broker(rate: float | None) -> tuple[SimulatedBroker, VirtualClock]:
    clock = VirtualClock(datetime.combine(date(2019, 4, 8), time(15, 30), NEW_YORK))
    broker = SimulatedBroker(
        FakeHistory(),
        MarketModel(),
        clock.now,
        default_calendar().is_session,
        SimulationCosts(),
        100_000.0,
        cash_rate=None if rate is None else fixed_rate(rate),
    )
    return broker, clock


async def test_broker_credits_interest_by_calendar_days_on_the_carried_balance() -> None:
    broker, clock = _broker(0.0365)
    assert broker.accrue_interest() is None  # the first session starts the clock
    clock.advance_to(datetime.combine(date(2019, 4, 9), time(15, 30), NEW_YORK))
    credit = broker.accrue_interest()
    assert credit is not None
    assert (credit.accrued_from, credit.days, credit.balance) == (date(2019, 4, 8), 1, 100_000.0)
    assert credit.amount == pytest.approx(10.0)  # 100,000 x 3.65% / 365
    assert broker.accrue_interest() is None  # once per session
    # Tuesday -> Thursday: two calendar days on the grown balance
    clock.advance_to(datetime.combine(date(2019, 4, 11), time(15, 30), NEW_YORK))
    credit = broker.accrue_interest()
    assert credit is not None and credit.days == 2
    assert credit.amount == pytest.approx(100_010.0 * 0.0365 * 2 / 365)
    account = await broker.account()
    assert account.cash == pytest.approx(100_010.0 + credit.amount)
    assert account.net_liquidation == account.cash


async def test_no_rate_no_interest() -> None:
    broker, clock = _broker(None)
    broker.accrue_interest()
    clock.advance_to(datetime.combine(date(2019, 4, 11), time(15, 30), NEW_YORK))
    assert broker.accrue_interest() is None
    assert (await broker.account()).cash == 100_000.0
