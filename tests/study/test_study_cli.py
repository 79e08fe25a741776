"""``alvh study`` end to end over a short range, and the CNDR replica on the engine."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.config import load_config
from daemon.journal import Journal
from daemon.study.runner import run_variant
from daemon.study.variants import study_variants

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "study"


def test_cndr_replica_trades_monthlies_settled_at_the_open(tmp_path: Path) -> None:
    variant = next(v for v in study_variants(False) if v.name == "cndr_replica")
    run = run_variant(
        load_config(None), variant, date(2019, 2, 1), date(2019, 4, 30), tmp_path / "c.sqlite"
    )
    journal = Journal.open(tmp_path / "c.sqlite", read_only=True)
    try:
        opens = journal._db.conn.execute(
            "SELECT session, inputs_json FROM decisions WHERE action = 'open'"
        ).fetchall()
        settled = journal._db.conn.execute(
            "SELECT DISTINCT expiry, trading_class, settlement_price FROM settlements"
        ).fetchall()
    finally:
        journal.close()
    sessions = [date.fromisoformat(s) for s, _ in opens]
    # roll days: the March monthly (2019-03-15) and the April one (Thursday 2019-04-18)
    assert date(2019, 3, 15) in sessions and date(2019, 4, 18) in sessions
    inputs = json.loads(opens[-1][1])
    assert inputs["short_delta"] == 0.2 and inputs["wing_mode"] == "delta"
    assert {(e, c) for e, c, _ in settled} >= {("2019-03-15", "SPX")}
    # settled at the SPX open of 2019-03-15 (2810.79), not its close (2822.48)
    march = [p for e, _, p in settled if e == "2019-03-15"]
    assert march == [pytest.approx(2810.79, abs=0.01)]
    assert run.net_liq[0] == pytest.approx(1_000_000.0)


def test_study_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    status = main(
        [
            "study", "--start", "2019-01-02", "--end", "2019-05-31", "--out", str(out),
            "--no-ablations", "--jobs", "1", "--variant-pages",
            "--cndr", str(FIXTURES / "cndr_synthetic.csv"),
            "--tbill", str(FIXTURES / "dtb3_synthetic.csv"),
        ]
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "CNDR replica vs index: monthly correlation" in printed
    assert "missing: S&P 500 total return" in printed
    with (out / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "variant", "regime", "cagr", "vol", "sharpe", "sortino", "calmar",
        "max_drawdown", "cvar95", "worst_month",
    ]  # fmt: skip
    variants = {r["variant"] for r in rows}
    assert variants == {"alvh", "unhedged", "fill_mid", "fill_natural", "cndr_replica",
                        "cndr_index"}  # fmt: skip
    assert {r["regime"] for r in rows} == {"all", "<20", "20-30", ">30"}
    alvh = next(r for r in rows if r["variant"] == "alvh" and r["regime"] == "all")
    assert -1.0 < float(alvh["max_drawdown"]) <= 0.0 and float(alvh["vol"]) > 0
    study = json.loads((out / "study.json").read_text())
    assert isinstance(study["cndr_monthly_correlation"], float)
    assert isinstance(study["cndr_tracking_error"], float)
    assert study["claim"]["metric"].startswith("relative difference of annualised volatility")
    assert study["claim"]["verdict"] in ("untestable",)  # no VIX > 30 session in 2019 H1
    assert study["missing"] and "S&P 500" in study["missing"][0]
    page = (out / "study.html").read_text()
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # opens offline
    assert (out / "equity.png").stat().st_size > 1000
    # each variant's `alvh report` page, linked relatively from the study page
    assert (out / "variants" / "unhedged" / "report.html").is_file()
    assert 'href="variants/alvh/report.html"' in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2019-02-01", "--end", "2019-01-01"], "is before --start"),
        (["--cndr", "no/such/file.csv", "--start", "2019-01-02", "--end", "2019-01-10"],
         "CNDR file no/such/file.csv"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status = main(["study", "--out", str(tmp_path / "o"), "--no-ablations", "--jobs", "1", *args])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and "Traceback" not in err
