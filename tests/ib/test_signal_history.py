"""The live signal source against the fake TWS: IB daily bars -> journal -> the signals' window.

The unmodified ib_async client asks the fake for daily bars (VIX, VVIX, SPX,
the front two VIX futures by contract month, expired ones included) over the
real socket protocol; the fake's bars are deterministic
(:func:`tests.fake_tws.history.synthetic_close`), so every row of the window
can be checked against what was served.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pytest

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import IBBroker, RequestTimeoutError
from daemon.calendars.exchange import default_calendar
from daemon.calendars.vix_expiry import next_vix_expiries
from daemon.clock import NEW_YORK
from daemon.engine import TradingEngine
from daemon.journal import Journal, MarketDayRecord
from daemon.marketdata.live_signals import IBSignalSource
from strategies.rules import CondorRules, HedgeRules
from tests.fake_tws import ErrorRule, In, MuteRule, Scenario
from tests.fake_tws.history import (
    DEFAULT_BREADTH,
    add_signal_history,
    future_key,
    synthetic_close,
)
from tests.ib.test_adapter_helpers import RecordingLog, running_broker

SESSION = date(2026, 11, 20)  # a Friday session
CAL = default_calendar()
ROWS = 60


def at(day: date, hour: int, minute: int = 0) -> Callable[[], datetime]:
    moment = datetime.combine(day, time(hour, minute), NEW_YORK)
    return lambda: moment


def scenario(closes: Callable[[str, date], float | None] = synthetic_close) -> Scenario:
    return add_signal_history(Scenario(today=SESSION), closes=closes)


def source(
    broker: IBBroker, journal: Journal, clock: Callable[[], datetime], log: RecordingLog
) -> IBSignalSource:
    return IBSignalSource(broker, journal, CAL, clock, log, futures_sessions=10)


def historical_requests(broker: IBBroker) -> int:
    return broker.request_counts["historical_data"]


def expected(key: str, days: list[date]) -> list[float]:
    return [v if (v := synthetic_close(key, d)) is not None else math.nan for d in days]


async def test_window_is_the_bars_ib_serves(tmp_path: Path) -> None:
    clock = at(SESSION, 15, 30)  # during the session: the window ends the day before
    async with running_broker(scenario(), clock=clock, historical_min_interval_s=0.0) as (
        tws,
        broker,
        log,
        _,
    ):
        with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
            window = await source(broker, journal, clock, log).window(SESSION, ROWS)
            days = list(window.dates)
            assert len(days) == ROWS and days[-1] == CAL.previous_session(SESSION)
            assert days == list(CAL.session_dates[CAL.session_index(days[-1]) - ROWS + 1 :][:ROWS])
            for name, key in (("vix", "VIX"), ("vvix", "VVIX"), ("spx", "SPX")):
                np.testing.assert_array_equal(getattr(window, name), expected(key, days))
            # the front two futures of each of the last 10 sessions, by contract month
            for i, day in enumerate(days):
                m1, m2 = next_vix_expiries(day, 2, CAL.is_session)
                got = (window.vix_m1[i], window.vix_m2[i])
                if i < ROWS - 10:
                    assert all(math.isnan(v) for v in got)
                else:
                    assert got == (
                        synthetic_close(future_key(m1), day),
                        synthetic_close(future_key(m2), day),
                    ), day
            # breadth has no IB history: NaN until the mark job records it
            assert np.isnan(window.advancing).all() and np.isnan(window.declining).all()
            # one request per index, one per futures contract month in the last 10 sessions
            months = {e for d in days[-10:] for e in next_vix_expiries(d, 2, CAL.is_session)}
            assert historical_requests(broker) == 3 + len(months)
            bars = tws.messages(In.REQ_HISTORICAL_DATA)
            assert len(bars) == 3 + len(months)
            # and every back-filled session is journaled for the next start
            rows = journal.market_days(days[0], days[-1])
            assert [r.session for r in rows] == days
            assert {r.source for r in rows} == {"ib_bars"}
            assert rows[-1].vix_m1_expiry == next_vix_expiries(days[-1], 2, CAL.is_session)[0]


async def test_no_row_after_the_decision_session(tmp_path: Path) -> None:
    async with running_broker(scenario(), historical_min_interval_s=0.0) as (_, broker, log, _f):
        with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
            # a row dated after the session is in the journal (another run, a later day)
            later = CAL.next_session(SESSION)
            journal.record_market_day(MarketDayRecord(later, vix=99.0, spx=1.0, source="manual"))
            during = await source(broker, journal, at(SESSION, 15, 30), log).window(SESSION, 30)
            closing = await source(broker, journal, at(SESSION, 16, 5), log).window(SESSION, 30)
            after = await source(broker, journal, at(SESSION, 16, 25), log).window(SESSION, 30)
            assert during.dates[-1] == CAL.previous_session(SESSION)
            # VIX is calculated until 16:15: the session is in 20 minutes after its close
            assert closing.dates[-1] == CAL.previous_session(SESSION)
            assert after.dates[-1] == SESSION
            assert after.vix[-1] == synthetic_close("VIX", SESSION)
            assert 99.0 not in after.vix and later not in after.dates
            # a weekend decision reads up to the Friday
            sunday = date(2026, 11, 22)
            weekend = await source(broker, journal, at(sunday, 12), log).window(sunday, 30)
            assert weekend.dates[-1] == SESSION


async def test_gaps_stay_nan_and_are_asked_for_again(tmp_path: Path) -> None:
    holes = {date(2026, 11, 12)}  # IB has no bar for anything that day
    no_vix = date(2026, 11, 16)  # and no VIX bar on this one

    def closes(key: str, day: date) -> float | None:
        if day in holes or (key == "VIX" and day == no_vix):
            return None
        return synthetic_close(key, day)

    clock = at(SESSION, 15, 30)
    async with running_broker(scenario(closes), clock=clock, historical_min_interval_s=0.0) as (
        _,
        broker,
        log,
        _f,
    ):
        with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
            window = await source(broker, journal, clock, log).window(SESSION, 20)
            i, j = window.dates.index(date(2026, 11, 12)), window.dates.index(no_vix)
            assert all(math.isnan(getattr(window, s)[i]) for s in ("vix", "spx", "vix_m1"))
            assert math.isnan(window.vix[j]) and window.spx[j] == synthetic_close("SPX", no_vix)
            journaled = {r.session for r in journal.market_days(window.dates[0], SESSION)}
            assert no_vix in journaled and date(2026, 11, 12) not in journaled
            before = historical_requests(broker)
            again = await source(broker, journal, clock, log).window(SESSION, 20)
            assert historical_requests(broker) > before  # the empty session is asked for again
            assert math.isnan(again.vix[i])


async def test_the_journal_back_fill_saves_requests_on_the_next_start(tmp_path: Path) -> None:
    clock = at(SESSION, 15, 30)
    async with running_broker(scenario(), clock=clock, historical_min_interval_s=0.0) as (
        _,
        broker,
        log,
        _f,
    ):
        with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
            first = source(broker, journal, clock, log)
            a = await first.window(SESSION, ROWS)
            cold = historical_requests(broker)
            # several hedge decisions in one session: one fetch
            assert await first.window(SESSION, ROWS) is a
            assert historical_requests(broker) == cold
            # a restart the same day: everything is in the journal, no request at all
            b = await source(broker, journal, clock, log).window(SESSION, ROWS)
            assert historical_requests(broker) == cold
            for name in ("vix", "vvix", "spx", "vix_m1", "vix_m2"):
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
            # the next session: only the one new session is asked for
            monday = CAL.next_session(SESSION)
            later = at(monday, 10)
            await source(broker, journal, later, log).window(monday, ROWS)
            warm = historical_requests(broker) - cold
            assert 0 < warm <= 3 + 2 < cold


async def test_an_ib_error_gives_no_signals_and_a_warning(tmp_path: Path) -> None:
    clock = at(SESSION, 15, 30)
    scen = scenario()
    no_permission = "Historical Market Data Service error message:No market data permissions"
    scen.error_rules.append(ErrorRule.historical_data(no_permission, times=None))
    async with running_broker(scen, clock=clock, historical_min_interval_s=0.0) as (
        _,
        broker,
        log,
        _f,
    ):
        with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
            run = journal.start_run("paper")
            engine = TradingEngine(
                broker,
                journal,
                run,
                clock,
                CondorRules(),
                HedgeRules(),
                log,
                signal_source=source(broker, journal, clock, log),
            )
            assert await engine.current_signals() is None
            [warning] = log.events("signals_unavailable")
            assert "162" in warning["reason"] and "permissions" in warning["reason"]
            assert warning["session"] == SESSION.isoformat()
            assert journal.market_days(date(2026, 1, 1), SESSION) == []  # nothing half-written


async def test_mark_job_records_the_session_with_breadth(tmp_path: Path) -> None:
    clock = at(SESSION, 16, 25)
    async with running_broker(scenario(), clock=clock, historical_min_interval_s=0.0) as (
        _,
        broker,
        log,
        _f,
    ):
        with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
            src = source(broker, journal, clock, log)
            row = await src.record_close(SESSION)
            assert row is not None
            [stored] = journal.market_days(SESSION, SESSION)
            assert stored.source == "mark"
            assert (stored.advancing, stored.declining) == DEFAULT_BREADTH[:2]
            assert stored.vix == synthetic_close("VIX", SESSION)
            m1, m2 = next_vix_expiries(SESSION, 2, CAL.is_session)
            assert (stored.vix_m1_expiry, stored.vix_m2_expiry) == (m1, m2)
            assert stored.vix_m2 == synthetic_close(future_key(m2), SESSION)
            # before the close nothing is recorded
            early = source(broker, journal, at(CAL.next_session(SESSION), 11), log)
            assert await early.record_close(CAL.next_session(SESSION)) is None
            # the window after the close carries the recorded breadth
            window = await src.window(SESSION, 30)
            assert window.advancing[-1] == DEFAULT_BREADTH[0]


async def test_a_mark_before_the_vix_close_is_final_leaves_the_indexes_to_the_back_fill(
    tmp_path: Path,
) -> None:
    async with running_broker(scenario(), historical_min_interval_s=0.0) as (_, broker, log, _f):
        with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
            await source(broker, journal, at(SESSION, 16, 15), log).record_close(SESSION)
            [early] = journal.market_days(SESSION, SESSION)
            assert math.isnan(early.vix) and math.isnan(early.spx)
            assert early.advancing == DEFAULT_BREADTH[0] and math.isfinite(early.vix_m1)
            # later the window asks IB for the closes the row lacks, keeping the breadth
            window = await source(broker, journal, at(SESSION, 16, 30), log).window(SESSION, 30)
            assert window.vix[-1] == synthetic_close("VIX", SESSION)
            assert window.advancing[-1] == DEFAULT_BREADTH[0]
            [row] = journal.market_days(SESSION, SESSION)
            assert row.vix == synthetic_close("VIX", SESSION)
            assert row.advancing == DEFAULT_BREADTH[0]


@pytest.mark.parametrize(("first", "last", "text"), [
    (date(2026, 11, 2), date(2026, 11, 20), "19 D"),
    (date(2025, 11, 21), date(2026, 11, 20), "365 D"),
    (date(2025, 1, 2), date(2026, 11, 20), "2 Y"),
])  # fmt: skip
def test_duration_covers_the_span(first: date, last: date, text: str) -> None:
    from daemon.brokers.ib.history import duration_for

    assert duration_for(first, last) == text


async def test_pacing_spaces_requests_reuses_identical_ones_and_stops_at_the_budget() -> None:
    async with running_broker(
        scenario(),
        historical_min_interval_s=0.2,
        historical_requests_per_10min=3,
        request_timeout_s=2.0,
    ) as (tws, broker, _log, _f):
        first, last = date(2026, 11, 2), date(2026, 11, 13)
        vix = await broker.index_daily_closes("VIX", first, last)
        assert vix == {
            d: synthetic_close("VIX", d) for d in CAL.session_dates if first <= d <= last
        }
        # an identical request within 15 s is answered from the previous answer
        assert await broker.index_daily_closes("VIX", first, last) == vix
        assert len(tws.messages(In.REQ_HISTORICAL_DATA)) == 1
        await broker.index_daily_closes("SPX", first, last)
        await broker.index_daily_closes("VVIX", first, last)
        sent = [m.at for m in tws.messages(In.REQ_HISTORICAL_DATA)]
        assert all(b - a >= 0.19 for a, b in itertools.pairwise(sent))
        # the fourth distinct request in 10 minutes: the next slot is ~600 s away
        with pytest.raises(BrokerError, match="pacing budget"):
            await broker.index_daily_closes("VIX", first, date(2026, 11, 16))
        assert len(tws.messages(In.REQ_HISTORICAL_DATA)) == 3


async def test_a_request_ib_leaves_unanswered_times_out_as_a_broker_error() -> None:
    scen = scenario()
    scen.mute_rules.append(MuteRule(In.REQ_HISTORICAL_DATA, times=None))
    async with running_broker(scen, request_timeout_s=0.5, historical_min_interval_s=0.0) as (
        _,
        broker,
        log,
        _f,
    ):
        with pytest.raises(RequestTimeoutError):
            await broker.index_daily_closes("VIX", date(2026, 11, 2), date(2026, 11, 13))
        assert log.events("ib_request_timeout")
