"""Loader behaviour on small synthetic bundles: error messages and quirk handling."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from daemon.calendars.exchange import ExchangeCalendar
from daemon.marketdata import MarketDataError, NotASessionError, load_history
from daemon.marketdata.loader import FILE_SPECS

JAN_2023 = [
    date(2023, 1, d) for d in (3, 4, 5, 6, 9, 10, 11, 12, 13, 17, 18, 19, 20, 23, 24, 25, 26, 27)
]
VIX_EXPIRY_JAN_2023 = date(2023, 1, 18)  # Feb 17 - 30 days


@pytest.fixture(scope="module")
def cal() -> ExchangeCalendar:
    return ExchangeCalendar(date(2022, 6, 1), date(2023, 12, 31))


def _row(series: str, k: int, d: date, cal: ExchangeCalendar) -> str:
    if series in ("spx", "vix", "vix9d", "vix3m"):
        base = {"spx": 3800.0, "vix": 20.0, "vix9d": 19.0, "vix3m": 22.0}[series] + k
        return f"{d},{base},{base + 1},{base - 1},{base + 0.5}"
    if series in ("vvix", "skew"):
        return f"{d},{100 + k}"
    if series == "nyse_breadth":
        return f"{d},{1000 + k},{2000 - k},50"
    expiry = VIX_EXPIRY_JAN_2023 if d < VIX_EXPIRY_JAN_2023 else date(2023, 2, 15)
    between = cal.session_index(expiry) - cal.session_index(d) - 1
    prices = ",".join(str(20 + k + r / 4) for r in range(7))
    return f"{d},{prices},{between}"


def write_bundle(
    root: Path,
    cal: ExchangeCalendar,
    rows: dict[str, list[date]] | None = None,
    edit: Callable[[str, list[str]], list[str]] | None = None,
) -> Path:
    """A valid bundle for January 2023 (every file on every session), optionally edited."""
    root.mkdir(parents=True, exist_ok=True)
    for series, spec in FILE_SPECS.items():
        dates = (rows or {}).get(series, JAN_2023)
        lines = [",".join(spec.header)] + [_row(series, k, d, cal) for k, d in enumerate(dates)]
        if edit is not None:
            lines = edit(series, lines)
        (root / spec.filename).write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return root


def editing(
    target: str, fn: Callable[[list[str]], list[str]]
) -> Callable[[str, list[str]], list[str]]:
    return lambda series, lines: fn(lines) if series == target else lines


def test_valid_synthetic_bundle(tmp_path: Path, cal: ExchangeCalendar) -> None:
    h = load_history(write_bundle(tmp_path, cal), cal)
    assert h.sessions == JAN_2023
    assert h.gaps == () and h.excluded_sessions == () and dict(h.dropped_rows) == {}
    assert h.expiry_mismatches == ()
    assert h.vix_open[0] == 20.0 and h.vix_close[0] == 20.5
    ctx = h.context(h.index_of(date(2023, 1, 18)))
    # On expiry day M1 is already the February contract.
    assert next(iter(ctx.vix_futures)) == date(2023, 2, 15)
    assert ctx.advancing == 1010 and ctx.declining == 1990


def test_missing_file(tmp_path: Path, cal: ExchangeCalendar) -> None:
    bundle = write_bundle(tmp_path, cal)
    (bundle / "skew.csv").unlink()
    with pytest.raises(MarketDataError, match=r"skew\.csv: file not found") as err:
        load_history(bundle, cal)
    assert "date,close" in str(err.value)


@pytest.mark.parametrize(
    ("series", "fn", "pattern"),
    [
        ("vix", lambda lines: [], r"vix\.csv: line 1: missing header, expected date,open"),
        (
            "vvix",
            lambda lines: ["date,value", *lines[1:]],
            r"vvix\.csv: line 1: wrong header date,value, expected date,close",
        ),
        (
            "spx",
            lambda lines: lines[1:],
            r"spx\.csv: line 1: wrong header 2023-01-03,.*expected date,open,high,low,close",
        ),
        (
            "vix3m",
            lambda lines: [*lines[:3], "2023-01-05,22,23,21,abc", *lines[4:]],
            r"vix3m\.csv: line 4: column close: unparsable number 'abc'",
        ),
        (
            "skew",
            lambda lines: [*lines[:5], "2023-01-09,inf", *lines[6:]],
            r"skew\.csv: line 6: column close: not a finite number 'inf'",
        ),
        (
            "vix9d",
            lambda lines: [*lines[:2], "01/04/2023,1,2,3,4", *lines[3:]],
            r"vix9d\.csv: line 3: unparsable date '01/04/2023' \(expected YYYY-MM-DD\)",
        ),
        (
            "vix9d",
            lambda lines: [*lines[:2], "2023-02-30,1,2,3,4", *lines[3:]],
            r"vix9d\.csv: line 3: unparsable date '2023-02-30'",
        ),
        (
            "vix",
            lambda lines: [*lines[:3], lines[2], *lines[3:]],
            r"vix\.csv: line 4: duplicate date 2023-01-04 \(also on line 3\)",
        ),
        (
            "nyse_breadth",
            lambda lines: [lines[0], lines[2], lines[1], *lines[3:]],
            r"nyse_breadth\.csv: line 3: date 2023-01-03 is earlier than 2023-01-04 on line 2",
        ),
        (
            "spx",
            lambda lines: [*lines[:2], "2023-01-04,1,2,3", *lines[3:]],
            r"spx\.csv: line 3: expected 5 fields \(date,open,high,low,close\), found 4",
        ),
        (
            "vix_futures",
            lambda lines: [*lines[:2], lines[2].rsplit(",", 1)[0] + ",2.5", *lines[3:]],
            r"vix_futures\.csv: line 3: column m1_days_to_expiration: expected a whole number",
        ),
    ],
)
def test_malformed_files(
    tmp_path: Path,
    cal: ExchangeCalendar,
    series: str,
    fn: Callable[[list[str]], list[str]],
    pattern: str,
) -> None:
    bundle = write_bundle(tmp_path, cal, edit=editing(series, fn))
    with pytest.raises(MarketDataError, match=pattern) as err:
        load_history(bundle, cal)
    assert str(bundle / f"{series}.csv") in str(err.value)


def test_header_is_case_insensitive_and_blank_lines_are_skipped(
    tmp_path: Path, cal: ExchangeCalendar
) -> None:
    def edit(series: str, lines: list[str]) -> list[str]:
        if series == "vix":
            return ["\ufeffDATE,OPEN,HIGH,LOW,CLOSE", *lines[1:], "", ""]
        return lines

    h = load_history(write_bundle(tmp_path, cal, edit=edit), cal)
    assert h.vix_close[-1] == 20.0 + len(JAN_2023) - 1 + 0.5


def test_gap_of_three_is_filled_gap_of_four_is_not(tmp_path: Path, cal: ExchangeCalendar) -> None:
    skew_rows = [d for d in JAN_2023 if not date(2023, 1, 5) <= d <= date(2023, 1, 9)]  # 3
    vvix_rows = [d for d in JAN_2023 if not date(2023, 1, 10) <= d <= date(2023, 1, 13)]  # 4
    h = load_history(write_bundle(tmp_path, cal, rows={"skew": skew_rows, "vvix": vvix_rows}), cal)
    before = h.skew[h.index_of(date(2023, 1, 4))]
    assert [h.skew[h.index_of(d)] for d in JAN_2023[2:5]] == [before] * 3
    assert np.isnan(h.vvix[h.index_of(date(2023, 1, 10)) : h.index_of(date(2023, 1, 13)) + 1]).all()
    assert h.vvix[h.index_of(date(2023, 1, 17))] == 100 + JAN_2023.index(date(2023, 1, 17)) - 4
    assert [(g.series, g.first, g.last, g.sessions, g.filled) for g in h.gaps] == [
        ("vvix", date(2023, 1, 10), date(2023, 1, 13), 4, False),
        ("skew", date(2023, 1, 5), date(2023, 1, 9), 3, True),
    ]
    assert h.gap_report() == [
        "VVIX: 4 sessions 2023-01-10..2023-01-13 missing, left NaN",
        "SKEW: 3 sessions 2023-01-05..2023-01-09 missing, forward-filled",
    ]
    assert h.context(h.index_of(date(2023, 1, 11))).vvix is None


def test_series_ending_early(tmp_path: Path, cal: ExchangeCalendar) -> None:
    h = load_history(
        write_bundle(tmp_path, cal, rows={"vix": JAN_2023[:-1], "vix_futures": JAN_2023[:10]}),
        cal,
    )
    assert h.vix_close[-1] == h.vix_close[-2]  # one session behind: filled
    tail = {g.series: g for g in h.gaps}
    assert tail["vix"].at_end and tail["vix"].filled
    assert tail["vix_futures"].at_end and not tail["vix_futures"].filled
    assert np.isnan(h.futures[10:]).all()
    assert h.context(len(h) - 1).vix_futures == {}
    with pytest.raises(MarketDataError, match="no VIX futures data after 2023-01-17"):
        h.range_indices(date(2023, 1, 3), date(2023, 1, 27), require=["vix_futures"])


def test_rows_on_holidays_are_dropped(tmp_path: Path, cal: ExchangeCalendar) -> None:
    mlk = date(2023, 1, 16)
    with_holiday = sorted([*JAN_2023, mlk])
    h = load_history(write_bundle(tmp_path, cal, rows={"vix": with_holiday}), cal)
    assert mlk not in h.sessions
    assert dict(h.dropped_rows) == {"vix": ((mlk, "on dates that are not NYSE sessions"),)}
    assert "vix.csv: dropped 1 rows on dates that are not NYSE sessions: 2023-01-16" in h.report()
    # The holiday row is not used to fill anything: 01-17 has its own row.
    k = with_holiday.index(date(2023, 1, 17))
    assert h.vix_close[h.index_of(date(2023, 1, 17))] == 20.0 + k + 0.5


def test_sessions_without_an_spx_close_are_not_sessions(
    tmp_path: Path, cal: ExchangeCalendar
) -> None:
    missing = date(2023, 1, 10)
    blank_close = date(2023, 1, 12)

    def edit(series: str, lines: list[str]) -> list[str]:
        if series != "spx":
            return lines
        return [
            line.rsplit(",", 1)[0] + "," if line.startswith(str(blank_close)) else line
            for line in lines
            if not line.startswith(str(missing))
        ]

    h = load_history(write_bundle(tmp_path, cal, edit=edit), cal)
    assert h.excluded_sessions == (missing, blank_close)
    assert len(h) == len(JAN_2023) - 2
    with pytest.raises(NotASessionError, match="without an SPX close"):
        h.index_of(missing)
    # Other series' rows on those sessions are reported, not silently used.
    assert (missing, "on sessions outside the SPX history") in h.dropped_rows["vix"]
    assert not any(g.series == "spx" for g in h.gaps)
    assert any("2 NYSE sessions without an SPX close" in line for line in h.report())


def test_no_usable_spx_rows(tmp_path: Path, cal: ExchangeCalendar) -> None:
    bundle = write_bundle(tmp_path, cal, rows={"spx": [date(2023, 1, 1)]})
    with pytest.raises(MarketDataError, match=r"spx\.csv: no row with a close"):
        load_history(bundle, cal)


def test_context_requires_a_vix_value(tmp_path: Path, cal: ExchangeCalendar) -> None:
    h = load_history(write_bundle(tmp_path, cal, rows={"vix": JAN_2023[5:]}), cal)
    assert math.isnan(h.vix_close[0])
    with pytest.raises(MarketDataError, match="no VIX close on 2023-01-03"):
        h.context(0)
    assert h.context(5).vix == 20.5


def test_rows_outside_the_calendar_are_dropped(tmp_path: Path, cal: ExchangeCalendar) -> None:
    early = date(2022, 5, 31)  # a session, but before this calendar's range
    h = load_history(write_bundle(tmp_path, cal, rows={"spx": [early, *JAN_2023]}), cal)
    assert h.first_session == JAN_2023[0]
    assert dict(h.dropped_rows) == {"spx": ((early, "outside the exchange calendar's range"),)}
    assert repr(h) == (
        f"MarketHistory(18 sessions 2023-01-03..2023-01-27, 0 gaps, bundle={str(tmp_path)!r})"
    )
