"""``alvh model-check`` on trimmed real chains: JSON keys, accuracy, pooling, errors, plot."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from daemon import modelcheck as mc
from daemon.chains import read_chain

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chains"
SPX = FIXTURES / "SPX_2023-02-03.csv"
SPX2 = FIXTURES / "SPX_2023-08-18.csv"
VIX = FIXTURES / "VIX_2023-05-15_intraday1147.csv"
KEYS = {
    "n_quotes",
    "median_abs_iv_error_vol_pts",
    "p90_abs_iv_error_vol_pts",
    "baseline_median_abs_iv_error_vol_pts",
    "baseline_p90_abs_iv_error_vol_pts",
}


def _args(*paths: Path, json_out: bool = True, plot: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(chains=list(paths), json=json_out, plot=plot, bundle=None)


def _run_json(capsys, *paths: Path) -> dict:
    assert mc.run(_args(*paths)) == 0
    return json.loads(capsys.readouterr().out)


def test_parser_wiring():
    parser = argparse.ArgumentParser(prog="alvh")
    sub = parser.add_subparsers(dest="command")
    mc.add_parser(sub)
    ns = parser.parse_args(["model-check", "a.csv", "b.csv", "--json", "--plot", "x.png"])
    from daemon import modelcheck_cli

    assert ns.func is modelcheck_cli.run
    assert ns.chains == [Path("a.csv"), Path("b.csv")] and ns.json and ns.plot == Path("x.png")


def test_parity_forward_and_recomputed_iv():
    q = mc.market_quotes(read_chain(SPX))
    fwd = np.unique(q.forward)
    # forwards a little below spot 4136.48 (dividends > rate effect in Feb 2023 is small)
    assert np.all(np.abs(fwd / 4136.48 - 1.0) < 0.005)
    assert np.all(np.where(q.is_call, q.strike >= q.forward, q.strike < q.forward))
    u = mc.spx_universe(q)
    # IV from the mid agrees with Cboe's to within a couple of vol points here
    # (this file was downloaded the same evening, so their clocks nearly agree)
    c = read_chain(SPX)
    assert u.sum() > 40
    assert np.nanmedian(q.iv[u]) == pytest.approx(np.median(c.iv[c.iv < 0.5]), abs=0.05)


def test_spx_json_keys_and_accuracy(capsys):
    out = _run_json(capsys, SPX)
    assert out.keys() >= KEYS
    assert out["n_quotes"] > 40
    assert out["median_abs_iv_error_vol_pts"] <= 1.0
    assert out["p90_abs_iv_error_vol_pts"] <= 2.5
    assert out["baseline_median_abs_iv_error_vol_pts"] >= 2 * out["median_abs_iv_error_vol_pts"]
    assert out["buckets"] and {"dte", "abs_delta", "n_quotes"} <= out["buckets"][0].keys()
    assert sum(b["n_quotes"] for b in out["buckets"]) >= out["n_quotes"]


def test_weekend_download_compared_like_with_like(capsys):
    # downloaded two days after the quote date: model error stays small
    out = _run_json(capsys, SPX2)
    assert out["quote_date"] == "2023-08-18"
    assert out["median_abs_iv_error_vol_pts"] <= 1.0


def test_several_files_give_pooled_figures(capsys):
    out = _run_json(capsys, SPX, SPX2, VIX)
    assert out["pooled"].keys() >= KEYS
    assert len(out["chains"]) == 3
    n = sum(c["n_quotes"] for c in out["chains"] if c["symbol"] == "SPX")
    assert out["pooled"]["n_quotes"] == n
    assert set(out["pooled_by_symbol"]) == {"SPX", "VIX"}


def test_vix_chain_uses_vix_model(capsys):
    out = _run_json(capsys, VIX)
    assert out["symbol"] == "VIX"
    assert out["n_quotes"] >= 15
    assert out["median_abs_iv_error_vol_pts"] <= 5.0
    assert out["baseline_median_abs_iv_error_vol_pts"] > out["median_abs_iv_error_vol_pts"]
    assert all(b["dte"][0] >= 30 for b in out["buckets"])


def test_text_output(capsys):
    assert mc.run(_args(SPX, SPX2, json_out=False)) == 0
    text = capsys.readouterr().out
    assert "SPX_2023-02-03.csv" in text and "pooled SPX" in text and "|delta|" in text


def test_date_outside_bundle_is_a_clear_error(tmp_path, capsys):
    old = tmp_path / "SPX_1985-02-01.csv"
    shutil.copy(SPX, old)
    assert mc.run(_args(old)) == 2
    err = capsys.readouterr().err
    assert "no bundled daily data for quote date 1985-02-01" in err


def test_malformed_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "SPX_2023-02-03.csv"
    bad.write_text("nothing here\n", encoding="utf-8")
    assert mc.run(_args(bad)) == 2
    assert "not a Cboe chain download" in capsys.readouterr().err


def test_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "fit.png"
    assert mc.run(_args(SPX, VIX, plot=png)) == 0
    capsys.readouterr()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
