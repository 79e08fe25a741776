"""The shipped bundle, loaded with the default calendar: known values, alignment, quirks."""

from __future__ import annotations

import math
import time
from datetime import date

import numpy as np
import pytest

from daemon.calendars.exchange import default_calendar
from daemon.marketdata import (
    BUNDLE_DIR,
    MAX_FFILL_SESSIONS,
    MarketDataError,
    MarketHistory,
    NotASessionError,
    load_history,
)
from daemon.marketdata.loader import FILE_SPECS


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return load_history()


def at(h: MarketHistory, array: np.ndarray, d: date) -> float:
    return float(array[h.index_of(d)])


def test_bundle_files_and_sources_ship_with_the_package() -> None:
    for spec in FILE_SPECS.values():
        path = BUNDLE_DIR / spec.filename
        header = path.read_text(encoding="utf-8").splitlines()[0]
        assert header.strip() == ",".join(spec.header)
    sources = (BUNDLE_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for needle in ("Cboe", "bobeatslollipop", "wongkaho2626", "refresh", "m1_days_to_expiration"):
        assert needle in sources


def test_loads_well_under_a_second() -> None:
    default_calendar()  # built once per process, shared
    t0 = time.perf_counter()
    h = load_history()
    elapsed = time.perf_counter() - t0
    assert len(h) > 9000
    assert elapsed < 0.8, f"load_history took {elapsed:.3f}s"


def test_known_values(history: MarketHistory) -> None:
    h = history
    assert at(h, h.vix_close, date(2008, 11, 20)) == 80.86
    assert at(h, h.vix_close, date(2020, 3, 16)) == 82.69
    assert at(h, h.vix_close, date(2018, 2, 5)) == 37.32
    assert at(h, h.vvix, date(2020, 3, 16)) == 207.59
    assert at(h, h.spx_close, date(2020, 3, 23)) == 2237.40
    assert at(h, h.spx_close, date(2024, 12, 31)) == 5881.63
    i = h.index_of(date(2020, 3, 16))
    assert h.futures[i, 0] == 72.625
    assert h.futures_expiries[i, 0] == np.datetime64("2020-03-18")


def test_shapes_and_read_only(history: MarketHistory) -> None:
    h = history
    n = len(h)
    assert h.sessions[0] == date(1990, 1, 2)
    assert h.sessions[-1] == date(2026, 7, 23)
    assert h.session_array.dtype == np.dtype("datetime64[D]")
    assert h.session_array.tolist() == h.sessions
    assert h.futures.shape == (n, 7)
    assert h.futures_expiries.shape == (n, 7)
    for name in ("spx_open", "spx_high", "spx_low", "spx_close", "vix_open", "vix_close"):
        arr = getattr(h, name)
        assert arr.shape == (n,) and arr.dtype == np.float64
        with pytest.raises(ValueError):
            arr[0] = 1.0
    assert not np.isnan(h.spx_close).any()


def test_sessions_follow_the_exchange_calendar(history: MarketHistory) -> None:
    h = history
    cal = default_calendar()
    assert h.sessions == cal.sessions(h.first_session, h.last_session)
    assert h.excluded_sessions == ()
    for holiday in (date(2022, 12, 26), date(2023, 1, 2), date(2024, 7, 4), date(2023, 1, 16)):
        assert holiday not in h.sessions
        with pytest.raises(NotASessionError, match="not an NYSE session") as err:
            h.index_of(holiday)
        assert isinstance(err.value, KeyError)
    with pytest.raises(KeyError, match="outside the history"):
        h.index_of(date(1989, 12, 29))


def test_vix_holiday_rows_are_dropped_and_reported(history: MarketHistory) -> None:
    dropped = dict(history.dropped_rows["vix"])
    # Cboe publishes VIX on some NYSE holidays from 2022 (global trading hours).
    assert date(2023, 1, 16) in dropped
    assert date(2024, 7, 4) in dropped
    assert date(2004, 6, 11) in dropped  # NYSE closed for President Reagan's funeral
    assert len(dropped) == 33
    assert sum(d.year >= 2022 for d in dropped) == 32
    assert set(dropped.values()) == {"on dates that are not NYSE sessions"}
    assert any("vix.csv: dropped 33 rows" in line for line in history.report())
    # The day after the holiday still carries its own value.
    assert at(history, history.vix_close, date(2024, 7, 5)) != 12.26


def test_series_start_on_their_own_dates(history: MarketHistory) -> None:
    h = history
    assert h.coverage("spx") == (date(1990, 1, 2), date(2026, 7, 23))
    assert h.coverage("vix9d") == (date(2011, 1, 4), date(2026, 7, 23))
    assert h.coverage("vix3m") == (date(2009, 9, 18), date(2026, 7, 23))
    assert h.coverage("vvix") == (date(2007, 1, 3), date(2026, 7, 23))
    assert h.coverage("vix_futures") == (date(2004, 3, 26), date(2024, 12, 31))
    assert h.coverage("nyse_breadth") == (date(1991, 12, 2), date(2026, 5, 22))
    assert math.isnan(at(h, h.vix9d, date(2010, 12, 31)))
    assert math.isnan(at(h, h.vix3m, date(2009, 9, 17)))
    # Leading NaNs are not gaps.
    assert not any(g.series == "vix9d" and g.first < date(2011, 1, 4) for g in h.gaps)
    with pytest.raises(KeyError, match="unknown series"):
        h.coverage("vxx")


def test_vvix_before_2007_is_discarded(history: MarketHistory) -> None:
    h = history
    assert math.isnan(at(h, h.vvix, date(2006, 3, 15)))  # the bad 15.71 print
    assert np.isnan(h.vvix[: h.index_of(date(2007, 1, 3))]).all()
    dropped = dict(h.dropped_rows["vvix"])
    assert date(2006, 3, 15) in dropped
    assert all(d < date(2007, 1, 1) for d in dropped)
    assert len(dropped) == 150


def test_vix_close_only_rows_have_no_open(history: MarketHistory) -> None:
    h = history
    assert at(h, h.vix_close, date(1990, 1, 2)) == 17.24
    assert math.isnan(at(h, h.vix_open, date(1990, 1, 2)))
    assert math.isnan(at(h, h.vix_open, date(1991, 12, 31)))
    assert at(h, h.vix_open, date(1992, 1, 2)) == 19.69
    early = h.vix_open[: h.index_of(date(1992, 1, 2))]
    assert np.isnan(early).all()
    assert any("505 close-only rows" in note for note in h.notes)


def test_short_gaps_are_forward_filled_long_ones_are_not(history: MarketHistory) -> None:
    h = history
    # SKEW: one missing session (1998-06-30) is filled from 1998-06-29.
    assert at(h, h.skew, date(1998, 6, 30)) == at(h, h.skew, date(1998, 6, 29)) == 123.22
    # SKEW: the Sep-Oct 2000 hole (13 calendar days, 8 sessions) stays NaN.
    assert math.isnan(at(h, h.skew, date(2000, 9, 20)))
    assert math.isnan(at(h, h.skew, date(2000, 9, 29)))
    assert at(h, h.skew, date(2000, 10, 2)) == 112.9
    skew_2000 = [g for g in h.gaps if g.series == "skew" and g.first.year == 2000]
    assert len(skew_2000) == 1
    gap = skew_2000[0]
    assert (gap.first, gap.last, gap.sessions, gap.filled) == (
        date(2000, 9, 20),
        date(2000, 9, 29),
        8,
        False,
    )
    # VIX: a missing day (1999-12-31) is filled.
    assert at(h, h.vix_close, date(1999, 12, 31)) == at(h, h.vix_close, date(1999, 12, 30))
    # The rule, over every recorded gap.
    for g in h.gaps:
        assert g.filled == (g.sessions <= MAX_FFILL_SESSIONS)
        assert g.sessions == h.index_of(g.last) - h.index_of(g.first) + 1


def test_breadth_gaps_1992_to_1994(history: MarketHistory) -> None:
    h = history
    assert math.isnan(at(h, h.advancing, date(1994, 1, 3)))
    assert math.isnan(at(h, h.declining, date(1994, 1, 3)))
    long_gaps = [g for g in h.gaps if g.series == "nyse_breadth" and not g.filled]
    big = max(long_gaps, key=lambda g: g.sessions)
    assert (big.first, big.last, big.sessions) == (date(1993, 10, 6), date(1994, 6, 17), 177)
    assert all(g.last < date(1995, 1, 1) or g.at_end for g in long_gaps)
    ctx = h.context(h.index_of(date(1994, 1, 3)))
    assert ctx.advancing is None and ctx.declining is None
    ctx = h.context(h.index_of(date(2020, 3, 16)))
    assert (ctx.advancing, ctx.declining) == (114, 2796)


def test_no_futures_after_2024(history: MarketHistory) -> None:
    h = history
    i = h.index_of(date(2025, 1, 2))
    assert np.isnan(h.futures[i:]).all()
    assert h.context(i).vix_futures == {}
    tail = [g for g in h.gaps if g.series == "vix_futures"]
    assert len(tail) == 1
    assert tail[0].first == date(2025, 1, 2) and tail[0].at_end and not tail[0].filled
    # Expiries keep following the Cboe rule after the prices stop.
    assert h.futures_expiries[i, 0] == np.datetime64("2025-01-22")


def test_futures_expiries_follow_the_rule_and_roll_on_expiry_day(history: MarketHistory) -> None:
    h = history
    before = h.futures_expiries[h.index_of(date(2020, 3, 17))].tolist()
    on = h.futures_expiries[h.index_of(date(2020, 3, 18))].tolist()
    assert before[:2] == [date(2020, 3, 18), date(2020, 4, 15)]
    assert on[:2] == [date(2020, 4, 15), date(2020, 5, 20)]
    assert on[1:] != before[1:] and before[1:] == on[:-1]
    # Juneteenth 2024: the prices roll on the rule's 06-18 (the column is a day off).
    assert h.futures_expiries[h.index_of(date(2024, 6, 17)), 0] == np.datetime64("2024-06-18")
    assert h.futures_expiries[h.index_of(date(2024, 6, 18)), 0] == np.datetime64("2024-07-17")
    assert np.isnat(h.futures_expiries[: h.index_of(date(2004, 3, 26))]).all()
    assert len(h.expiry_mismatches) == 65
    # On 2024-06-17 the column says 1 session before expiry: the source ignored
    # Juneteenth, so counting XNYS sessions implies 06-20 instead of the rule's 06-18.
    _, implied, rule = next(m for m in h.expiry_mismatches if m[0] == date(2024, 6, 17))
    assert (implied, rule) == (date(2024, 6, 20), date(2024, 6, 18))
    # Ranks are strictly increasing wherever there are futures.
    valid = h.futures_expiries[~np.isnat(h.futures_expiries[:, 0])]
    assert (np.diff(valid.astype("int64"), axis=1) > 0).all()


def test_context(history: MarketHistory) -> None:
    h = history
    ctx = h.context(h.index_of(date(2020, 3, 16)))
    assert ctx.session == date(2020, 3, 16)
    assert ctx.vix == 82.69 and ctx.vvix == 207.59
    assert ctx.spx == at(h, h.spx_close, date(2020, 3, 16))
    assert list(ctx.vix_futures) == [
        date(2020, 3, 18),
        date(2020, 4, 15),
        date(2020, 5, 20),
        date(2020, 6, 17),
        date(2020, 7, 22),
        date(2020, 8, 19),
        date(2020, 9, 16),
    ]
    assert ctx.vix_futures[date(2020, 3, 18)] == 72.625
    old = h.context(0)
    assert old.vix == 17.24 and old.vix9d is None and old.vvix is None and old.vix_futures == {}
    assert old.skew == 126.09
    with pytest.raises(IndexError):
        h.context(len(h))


def test_range_indices(history: MarketHistory) -> None:
    h = history
    r = h.range_indices(date(2018, 1, 1), date(2020, 12, 31))
    assert h.sessions[r.start] == date(2018, 1, 2)
    assert h.sessions[r.stop - 1] == date(2020, 12, 31)
    assert len(r) == len(default_calendar().sessions(date(2018, 1, 1), date(2020, 12, 31)))
    # Starting on the New Year holiday before the first session is fine.
    assert h.range_indices(date(1990, 1, 1), date(1990, 1, 31)).start == 0
    with pytest.raises(MarketDataError, match="no SPX data before 1990-01-02"):
        h.range_indices(date(1989, 6, 1), date(2000, 1, 1))
    with pytest.raises(MarketDataError, match="no SPX data after 2026-07-23"):
        h.range_indices(date(2026, 1, 2), date(2026, 12, 31))
    with pytest.raises(MarketDataError, match="no VIX futures data after 2024-12-31"):
        h.range_indices(date(2024, 6, 3), date(2025, 6, 30), require=("vix_futures",))
    with pytest.raises(MarketDataError, match="no VIX futures data before 2004-03-26"):
        h.range_indices(date(2004, 1, 2), date(2005, 6, 30), require=["vix_futures"])
    with pytest.raises(MarketDataError, match="is after end"):
        h.range_indices(date(2020, 2, 1), date(2020, 1, 1))
    with pytest.raises(MarketDataError, match="no sessions between"):
        h.range_indices(date(2024, 7, 4), date(2024, 7, 4))
    with pytest.raises(MarketDataError, match="unknown series"):
        h.range_indices(date(2020, 1, 2), date(2020, 1, 3), require=["vxx"])
    assert len(h.range_indices(date(2020, 1, 2), date(2020, 1, 3), require=["vix9d"])) == 2


def test_gap_report(history: MarketHistory) -> None:
    lines = history.gap_report()
    assert len(lines) == len(history.gaps)
    assert "SKEW: 8 sessions 2000-09-20..2000-09-29 missing, left NaN" in lines
    assert "VIX: 1 session 1999-12-31 missing, forward-filled" in lines
    assert any(line.startswith("VIX futures: 389 sessions 2025-01-02..") for line in lines)
    report = history.report()
    assert set(lines) <= set(report)
    assert any("m1_days_to_expiration agrees" in line for line in report)
