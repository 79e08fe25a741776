"""``alvh sweep``: Dask and in-process agree, an interrupted sweep resumes, the results files."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from daemon.cli import main
from daemon.journal import Journal
from daemon.sweep import task
from daemon.sweep.cache import ResultCache
from daemon.sweep.grid import Point, load_grid
from daemon.sweep.metrics import METRICS, point_metrics
from daemon.sweep.report import importance
from daemon.sweep.runner import PointOutcome, run_points

START, END = date(2019, 1, 2), date(2019, 3, 29)

GRID = """
[grid]
"condor.short_delta" = [0.12, 0.16]
"condor.target_dte" = [10, 14]
"""


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield


def _points(tmp_path: Path, text: str = GRID) -> list[Point]:
    path = tmp_path / "grid.toml"
    path.write_text(text, encoding="utf-8")
    return load_grid(path).points()


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


def test_a_point_on_dask_equals_the_point_in_process(tmp_path: Path) -> None:
    """One point through a local Dask cluster (in-process transport) and in this process."""
    from dask.distributed import Client, LocalCluster

    (point,) = _points(tmp_path, '[grid]\n"condor.short_delta" = [0.12]\n')
    local = run_points([point], START, END, ResultCache(tmp_path / "a"), workers=0)
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=False,  # in-process transport; its HTTP servers on loopback only
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        remote = run_points(
            [point], START, END, ResultCache(tmp_path / "b"), client=client, progress=False
        )
    assert local.ran == remote.ran == 1 and not local.failed and not remote.failed
    assert remote.workers == 1 and local.workers == 0
    a, b = local.finished[0].result, remote.finished[0].result
    assert a["key"] == b["key"]  # same config, range and versions: same cache key
    assert set(a["metrics"]) == set(METRICS)
    assert a["metrics"]["trades_closed"] > 0 and a["metrics"]["pnl"] != 0.0
    assert _same(a["metrics"], b["metrics"])
    assert a["summary"] | {"started_at": "", "finished_at": ""} == b["summary"] | {
        "started_at": "",
        "finished_at": "",
    }


def test_interrupted_sweep_reruns_only_the_unfinished_points(tmp_path: Path) -> None:
    points = _points(tmp_path)
    cache = ResultCache(tmp_path / "cache")
    before = task.REPLAYS_STARTED

    def stop_after_two(done: PointOutcome) -> None:
        if sum(1 for _ in cache.folder.glob("*.json")) == 2:
            raise KeyboardInterrupt

    first = run_points(points, START, END, cache, workers=0, on_finished=stop_after_two)
    assert first.interrupted and first.ran == 2
    assert task.REPLAYS_STARTED - before == 2
    # a half-written point (journal without its result) counts as unfinished
    stray = cache.journal_path("0" * 64)
    stray.write_bytes(b"partial")
    second = run_points(points, START, END, cache, workers=0)
    assert not second.interrupted and (second.cached, second.ran) == (2, 2)
    assert task.REPLAYS_STARTED - before == 4
    third = run_points(points, START, END, cache, workers=0)
    assert (third.cached, third.ran) == (4, 0) and task.REPLAYS_STARTED - before == 4
    metrics = {o.key: o.result["metrics"] for o in second.finished}
    assert all(_same(o.result["metrics"], metrics[o.key]) for o in third.finished)
    # another range is another key
    fourth = run_points(points[:1], START, date(2019, 3, 28), cache, workers=0)
    assert fourth.ran == 1


def test_cli_sweep_writes_results_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.replace(", 14]", "]"), encoding="utf-8")  # 2 points
    out = tmp_path / "out"
    args = ["sweep", str(grid), "--start", "2019-10-01", "--end", "2020-02-28", "--workers", "0"]
    args += ["--out", str(out), "--no-progress", "--walk-forward", "1:1", "--metric", "cagr"]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "2 replayed in-process, 0 from the cache" in first.err
    with open(out / "results.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["condor.short_delta"] for r in rows] == ["0.12", "0.16"]
    assert all(float(r["sessions"]) == 104 and r["cagr"] for r in rows)
    page = (out / "results.html").read_text(encoding="utf-8")
    assert "<script>" in page and "data:image/png" not in page  # one varied key: no heat map
    assert "http" not in page.replace("http-equiv", "")  # offline: no external resource
    with open(out / "walk_forward.csv", encoding="utf-8") as handle:
        (window,) = list(csv.DictReader(handle))
    assert (window["test_start"], window["test_end"]) == ("2020-01-01", "2020-02-28")
    cached = [json.loads(p.read_text()) for p in (out / "cache").glob("*.json")]
    chosen = max(
        cached,
        key=lambda r: point_metrics(
            out / "cache" / f"{r['key']}.sqlite", r["run_id"], date(2019, 10, 1), date(2019, 12, 31)
        )["cagr"],
    )
    assert window["point"] == str(chosen["index"])
    assert main(args) == 0
    assert "0 replayed in-process, 2 from the cache" in capsys.readouterr().err


def test_point_metrics_from_daily_rows(tmp_path: Path) -> None:
    """Returns, drawdown and window rebasing on a hand-made run (starting cash 1,000)."""
    path = tmp_path / "j.sqlite"
    levels = [1100.0, 990.0, 1089.0, 1200.0]
    sessions = [date(2020, 12, 30), date(2020, 12, 31), date(2021, 1, 4), date(2021, 1, 5)]
    with Journal.open(path) as journal:
        run = journal.start_run(
            "replay", config_json=json.dumps({"replay": {"starting_cash": 1000}})
        )
        for session, nl in zip(sessions, levels, strict=True):
            journal.record_daily(
                run,
                session,
                cash=nl,
                net_liquidation=nl,
                open_condor_pnl=nl - 1000.0,
                open_hedge_pnl=0.0,
                drawdown=0.0,
            )
        journal.finish_run(run, journal.summary(run))
    whole = point_metrics(path, run)
    assert whole["sessions"] == 4 and whole["pnl"] == pytest.approx(200.0)
    assert whole["max_drawdown"] == pytest.approx(0.1)  # 1100 -> 990
    assert whole["worst_day"] == pytest.approx(-0.1)
    assert whole["cagr"] == pytest.approx(1.2 ** (252 / 4) - 1)
    assert whole["condor_pnl"] == pytest.approx(200.0) and whole["commissions"] == 0.0
    # the study's regimes by the previous session's VIX close (22.75-26.97 over these days)
    assert whole["max_drawdown_vix_20_30"] == pytest.approx(0.1)
    assert whole["cagr_vix_20_30"] == pytest.approx(whole["cagr"])
    assert math.isnan(whole["vol_vix_gt30"]) and math.isnan(whole["vol_vix_lt20"])
    window = point_metrics(path, run, date(2021, 1, 1), date(2021, 1, 5))
    assert window["sessions"] == 2 and window["pnl"] == pytest.approx(210.0)  # from 990
    assert window["max_drawdown"] == 0.0 and math.isnan(window["calmar"])
    assert window["condor_pnl"] == pytest.approx(210.0) and math.isnan(window["commissions"])


def test_importance_ranks_the_parameter_that_moves_the_metric() -> None:
    rows: list[dict[str, Any]] = [
        {"params": {"a": a, "b": b}, "metrics": {"sharpe": 10.0 * a + 0.1 * b}}
        for a in (0, 1)
        for b in (0, 1, 2)
    ]
    ranked = importance(rows, ["a", "b", "c"], "sharpe")
    assert [name for name, _ in ranked] == ["a", "b"]  # "c" has one value: not ranked
    assert ranked[0][1] == pytest.approx(10.0) and ranked[1][1] == pytest.approx(0.2)


def test_killed_sweep_process_resumes_with_only_the_unfinished_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL an ``alvh sweep`` process after its first finished point, then rerun it."""
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID, encoding="utf-8")  # 4 points
    out = tmp_path / "out"
    args = ["sweep", str(grid), "--start", "2019-01-02", "--end", "2019-06-28", "--workers", "0"]
    args += ["--out", str(out), "--no-progress"]
    code = "import sys; from daemon.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    try:
        while not list((out / "cache").glob("*.json")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    done = len(list((out / "cache").glob("*.json")))
    assert 1 <= done < 4
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"{4 - done} replayed in-process, {done} from the cache" in err
