"""Cboe delayed-quote chain reader: layout, trading classes, skipped quotes, timestamps."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from daemon.chains import ChainFormatError, parse_download_time, read_chain, read_chains

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chains"
SPX = FIXTURES / "SPX_2023-02-03.csv"
VIX = FIXTURES / "VIX_2023-05-15_intraday1147.csv"
HEADER = (
    "Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,"
    "Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest"
)


def test_reads_spx_fixture_fields():
    c = read_chain(SPX)
    assert c.symbol == "SPX"
    assert c.underlying == pytest.approx(4136.48)
    assert c.quote_date == date(2023, 2, 3)
    assert c.downloaded == datetime(2023, 2, 3, 23, 24)
    assert c.quote_time == datetime(2023, 2, 3, 16, 0) and not c.intraday
    assert set(c.trading_class.tolist()) == {"SPX", "SPXW"}
    assert c.expiries == [date(2023, 2, 17), date(2023, 2, 28)]
    assert np.all(c.bid > 0) and np.all(c.ask >= c.bid) and np.all(c.iv > 0)
    # one known quote: SPXW 2023-02-17 P 3600, bid 1.00 ask 1.20, Cboe IV 32.06 %
    m = (
        (c.trading_class == "SPXW")
        & (c.expiry == np.datetime64("2023-02-17"))
        & (c.strike == 3600.0)
        & ~c.is_call
    )
    assert m.sum() == 1
    assert (c.bid[m][0], c.ask[m][0], c.iv[m][0]) == (1.0, 1.2, 0.3206)
    assert c.delta[m][0] == pytest.approx(-0.0122)
    assert np.all(c.dte() == np.array([14 if e == np.datetime64("2023-02-17") else 25
                                       for e in c.expiry]))  # fmt: skip


def test_missing_iv_is_reported_and_skipped():
    c = read_chain(SPX)
    # the AM-settled SPX 3600 call has bid/ask but IV 0 in the file
    assert c.skipped.get("missing IV", 0) >= 1
    am_call = (c.trading_class == "SPX") & (c.strike == 3600.0) & c.is_call
    assert not am_call.any()
    assert "skipped" in c.summary()


def test_vix_fixture_is_intraday_vix():
    c = read_chain(VIX)
    assert c.symbol == "VIX"
    assert set(c.trading_class.tolist()) == {"VIX"}
    assert c.intraday and c.quote_time == datetime(2023, 5, 15, 11, 47)
    assert c.underlying == pytest.approx(17.33)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Date: January 9, 2022, 3:11 AM EST"', datetime(2022, 1, 9, 3, 11)),
        ('"Date: February 5 2022, 8:09 PM EST"', datetime(2022, 2, 5, 20, 9)),
        ('"Date: February 3, 2023 at 11:24 PM EST"', datetime(2023, 2, 3, 23, 24)),
        ("Date: 10 April 2023, 20:51 UTC\u22124", datetime(2023, 4, 10, 20, 51)),
        ("Date: 6 May 2023, 8:40 PM EDT", datetime(2023, 5, 6, 20, 40)),
        ("Date: 8 June 2023 7:56 PM EDT", datetime(2023, 6, 8, 19, 56)),
        ("Date: 9 декабря 2023 г. в 13:49 GMT-5", datetime(2023, 12, 9, 13, 49)),
        ("Date: 15 May 2023, 11:47 AM EDT", datetime(2023, 5, 15, 11, 47)),
        ("Date: 15 May 2023, 17:47 UTC+0", datetime(2023, 5, 15, 13, 47)),  # converted to EDT
        ("Date: 1 January 2024, 12:05 AM EST", datetime(2024, 1, 1, 0, 5)),
    ],
)
def test_download_time_variants(text, expected):
    assert parse_download_time(text) == expected


def test_unparsable_download_time():
    with pytest.raises(ValueError):
        parse_download_time("Date: sometime")


DATE_LINE = '"Date: May 6 2023, 8:40 PM EDT",Bid: 1'


def _write(path: Path, body: str, date_line: str = DATE_LINE) -> Path:
    path.write_text(f"\nStandard & Poors 500 Index,Last: 4136.25,Change: 1\n{date_line}\n"
                    f"{HEADER}\n{body}", encoding="utf-8")  # fmt: skip
    return path


GOOD = (
    "Fri May 19 2023,SPXW230519C04150000,0,0,30.1,30.9,0,0.14,0.5,0,0,4150.00,"
    "SPXW230519P04150000,0,0,40.0,40.8,0,0.15,-0.5,0,0,0\n"
)


def test_bad_rows_zero_quotes_are_counted_not_fatal(tmp_path):
    body = (
        GOOD + "Fri May 19 2023,SPXW230519C04200000,0,0,0,0.05,0,0,0,0,0,4200.00,"
        "SPXW230519P04200000,0,0,70,71,0,0.16,-0.7,0,0,0\n"  # call bid 0
         + "garbage,row\n" + "Fri May 19 2023,NOTASYMBOL,0,0,1,2,0,0.1,0.1,0,0,4250.00,"
        "SPXW230519P04250000,0,0,1,2,0,0.1,-0.1,0,0,0\n"
        + "Fri May 19 2023,SPXW230519C04300000,0,0,5,4,0,0.1,0.1,0,0,4300.00,"
        "SPXW230519P04300000,0,0,150,151,0,0,-0.9,0,0,0\n"  # crossed call, put IV 0
    )
    c = read_chain(_write(tmp_path / "SPX_2023-05-05.csv", body))
    assert len(c) == 3  # the good call and put + the put of the zero-bid call row
    assert c.skipped == {
        "zero bid or ask": 1,
        "malformed rows": 2,
        "crossed quotes": 1,
        "missing IV": 1,
    }


def test_quote_date_from_download_when_name_has_none(tmp_path):
    # downloaded Saturday 2023-05-06 evening: quotes are Friday's close
    c = read_chain(_write(tmp_path / "chain.csv", GOOD))
    assert c.quote_date == date(2023, 5, 5)
    assert c.quote_time == datetime(2023, 5, 5, 16, 0)


def test_malformed_files_raise_or_are_reported(tmp_path):
    no_header = tmp_path / "SPX_2023-05-05.csv"
    no_header.write_text("just,some\ncsv,text\n", encoding="utf-8")
    empty = _write(tmp_path / "SPX_2023-05-08.csv", "")
    good = _write(tmp_path / "SPX_2023-05-09.csv", GOOD)
    with pytest.raises(ChainFormatError, match="not a Cboe chain download"):
        read_chain(no_header)
    with pytest.raises(ChainFormatError, match="no usable quote"):
        read_chain(empty)
    with pytest.raises(ChainFormatError, match="file not found"):
        read_chain(tmp_path / "missing.csv")
    chains, problems = read_chains([tmp_path])
    assert [c.path.name for c in chains] == ["SPX_2023-05-09.csv"]
    assert len(problems) == 2 and all("SPX_2023-05-0" in p for p in problems)
    assert chains[0].quote_date == date(2023, 5, 9) == date.fromisoformat(good.stem[4:])
