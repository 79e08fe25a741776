"""``alvh model-check`` on plain quotes files: reader, JSON keys, regimes, errors.

The quotes are synthetic (priced in the test from the shipped VIX model with a
known IV offset) on real bundled dates, so the expected errors are exact and
the test needs no data outside the repository.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from daemon import modelcheck_cli
from daemon.marketdata.loader import load_history
from daemon.quotes_file import QuotesFormatError, is_quotes_file, read_quotes
from strategies.pricing.black import black_price
from strategies.pricing.vix_model import vix_option_vol

#: (quote date, expiry, VIX close regime) on bundled sessions; futures settle in the bundle.
DATES = (
    (date(2007, 1, 10), date(2007, 2, 14)),  # VIX ~ 11: "<20"
    (date(2010, 5, 20), date(2010, 6, 16)),  # VIX ~ 45: ">30"
    (date(2011, 8, 30), date(2011, 9, 21)),  # VIX ~ 32.3: ">30"
    (date(2012, 6, 1), date(2012, 6, 20)),  # VIX ~ 26.7: "20-30"
)
OFFSET = 0.05  # market IV = model IV + 5 vol points


def _write(tmp_path: Path, *, bid_ask: bool = True) -> Path:
    history = load_history()
    lines = ["quote_date,underlying,expiry,strike,right,bid,ask,mid,note"]
    for qd, ex in DATES:
        ctx = history.context(history.index_of(qd))
        f = ctx.vix_futures[ex]
        t = ((ex - qd).days - 6.5 / 24) / 365
        for k in (round(f) + 1.0, round(f) + 3.0, round(f * 1.3)):
            iv = float(vix_option_vol(k, f, t, ctx.vvix, vix=ctx.vix)) + OFFSET
            mid = float(black_price(f, k, t, iv, True))
            if bid_ask:
                lines.append(f"{qd},VIX,{ex},{k},C,{mid - 0.02:.6f},{mid + 0.02:.6f},,x")
            else:
                lines.append(f"{qd},VIX,{ex},{k},C,0,0,{mid:.6f},x")
    lines.append(f"{DATES[0][0]},VIX,{DATES[0][1]},30,C,0,0,0.01,too cheap")  # below the universe
    lines.append(f"{DATES[0][0]},VIX,{DATES[0][1]},30,C,0,0,0,no price")  # skipped
    path = tmp_path / "quotes.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(path: Path, capsys: pytest.CaptureFixture[str], json_out: bool = True) -> tuple[int, str]:
    args = argparse.Namespace(chains=[path], json=json_out, plot=None, bundle=None)
    code = modelcheck_cli.run(args)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("bid_ask", [True, False])
def test_quotes_file_reports_chain_keys_price_error_and_regimes(tmp_path, capsys, bid_ask):
    path = _write(tmp_path, bid_ask=bid_ask)
    assert is_quotes_file(path)
    code, out = _run(path, capsys)
    assert code == 0, out
    obj = json.loads(out)
    for key in ("n_quotes", "median_abs_iv_error_vol_pts", "p90_abs_iv_error_vol_pts",
                "baseline_median_abs_iv_error_vol_pts", "baseline_p90_abs_iv_error_vol_pts",
                "median_abs_price_error_pct", "by_vix_regime"):  # fmt: skip
        assert key in obj
    assert obj["symbol"] == "VIX" and obj["n_quotes"] == 12
    assert obj["n_rows"] == 14 and obj["n_excluded"] == 2
    assert obj["forward_sources"] == {"settlement": 12}
    # every quote sits 5 vol points above the model
    assert obj["median_abs_iv_error_vol_pts"] == pytest.approx(5.0, abs=0.05)
    assert obj["p90_abs_iv_error_vol_pts"] == pytest.approx(5.0, abs=0.05)
    assert 1.0 < obj["median_abs_price_error_pct"] < 30.0
    reg = obj["by_vix_regime"]
    assert list(reg) == ["<20", "20-30", ">30"]
    assert [reg[k]["n_quotes"] for k in reg] == [3, 3, 6]
    for b in reg.values():
        assert set(b) == {"n_quotes", "median_abs_iv_error_vol_pts",
                          "p90_abs_iv_error_vol_pts", "median_abs_price_error_pct"}  # fmt: skip
        assert b["median_abs_iv_error_vol_pts"] == pytest.approx(5.0, abs=0.05)
    assert set(obj["by_year"]) == {"2007", "2010", "2011", "2012"}
    assert sum(v["n_quotes"] for v in obj["by_moneyness"].values()) == 12
    assert sum(v["n_quotes"] for v in obj["by_price"].values()) == 12
    # bid/ask 0.02 around the model price + 5 vol points: the model price is below the bid
    assert obj["share_inside_bid_ask"] == (0.0 if bid_ask else None)


def test_a_file_with_both_rights_is_priced_on_its_parity_future(tmp_path, capsys):
    """Quotes made on a future 1 point above the day's settlement: parity, not settlement."""
    qd, ex = DATES[3]
    ctx = load_history().context(load_history().index_of(qd))
    f = ctx.vix_futures[ex] + 1.0
    t = ((ex - qd).days - 6.5 / 24) / 365
    lines = ["quote_date,underlying,expiry,strike,right,mid"]
    for k in (f - 3.0, f - 1.0, f + 1.0, f + 3.0, f + 6.0):
        iv = float(vix_option_vol(k, f, t, ctx.vvix, vix=ctx.vix))
        for call in (True, False):
            mid = float(black_price(f, k, t, iv, call))
            lines.append(f"{qd},VIX,{ex},{k:.2f},{'C' if call else 'P'},{mid:.6f}")
    path = tmp_path / "both.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = _run(path, capsys)
    assert code == 0, out
    obj = json.loads(out)
    assert set(obj["forward_sources"]) == {"parity"}
    assert obj["median_abs_iv_error_vol_pts"] < 0.05


def test_quotes_file_text_output(tmp_path, capsys):
    code, out = _run(_write(tmp_path), capsys, json_out=False)
    assert code == 0
    assert "12 quotes in the universe" in out and "VIX    >30" in out


def test_reader_mid_only_and_skips(tmp_path):
    rows = read_quotes(_write(tmp_path, bid_ask=False))
    assert len(rows) == 13 and rows.skipped == 1
    assert np.all(rows.bid == 0) and np.all(rows.mid > 0)
    assert rows.line[0] == 2


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("quote_date,underlying,expiry,strike,bid,ask\n", "line 1: header lacks column(s) right"),
        ("quote_date,underlying,expiry,strike,right\n", "bid,ask or mid"),
        (
            "quote_date,underlying,expiry,strike,right,mid\n2010-05-20,VIX,2010-06-16,x,C,1\n",
            "line 2: column strike: expected a number",
        ),
        (
            "quote_date,underlying,expiry,strike,right,mid\n\n2010-05-32,VIX,2010-06-16,30,C,1\n",
            "line 3: column quote_date: expected an ISO date",
        ),
        (
            "quote_date,underlying,expiry,strike,right,mid\n2010-05-20,VIX,2010-06-16,30,X,1\n",
            "line 2: column right",
        ),
        (
            "quote_date,underlying,expiry,strike,right,mid\n2010-05-20,RUT,2010-06-16,30,C,1\n",
            "line 2: column underlying",
        ),
        (
            "quote_date,underlying,expiry,strike,right,mid\n2010-05-22,VIX,2010-06-16,30,C,1\n",
            "line 2: no bundled daily data for quote date 2010-05-22",
        ),
    ],
)
def test_bad_quotes_files_give_one_line_naming_file_and_line(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    code, out = _run(path, capsys)
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert str(path) in lines[0] and needle in lines[0]
    assert "Traceback" not in out


def test_reader_error_type(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(QuotesFormatError, match="empty file"):
        read_quotes(path)
