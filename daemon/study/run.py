"""The whole study: replay the variants, measure them, compare, and write the outputs.

Outputs in ``out`` (see :func:`run_study`):

* ``summary.csv``: one row per variant (and benchmark) and regime,
  ``variant,regime,cagr,vol,sharpe,sortino,calmar,max_drawdown,cvar95,worst_month``
  (decimals, regime one of ``all``, ``<20``, ``20-30``, ``>30``; an empty cell
  is a metric with too few returns).
* ``by_year.csv``: the same metrics per variant and calendar year.
* ``study.json``: range, variants and their descriptions, wall times,
  metrics by regime and year, hedged-minus-unhedged differences with their
  bootstrap intervals, ``cndr_monthly_correlation``, ``cndr_tracking_error``
  (``null`` without the CNDR file), the CNDR comparison in detail, the
  claim's test (``claim``), and ``missing`` (benchmark files not given).
* PNGs and ``study.html`` (:mod:`daemon.study.page`); with
  ``variant_pages`` each variant's ``alvh report`` page in
  ``variants/<name>/report.html``, linked from the study page.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from daemon.config import AlvhConfig
from daemon.study import bootstrap as bs
from daemon.study.benchmarks import Series, bundled_tbill, read_cndr, read_sp500tr, read_tbill
from daemon.study.claim import ClaimTest, check_claim
from daemon.study.cndr import Comparison, compare_monthly
from daemon.study.metrics import (
    METRIC_NAMES,
    REGIMES,
    Metrics,
    SeriesMetrics,
    daily_returns,
    regime_mask,
    series_metrics,
)
from daemon.study.runner import VariantRun, run_variants
from daemon.study.variants import Variant, study_variants

#: Differences measured for ALVH minus unhedged (name, statistic, unit).
DIFFERENCES: tuple[tuple[str, bs.PairStatistic], ...] = (
    ("cagr", bs.cagr_difference),
    ("vol", bs.vol_difference),
    ("sharpe", bs.sharpe_difference),
    ("max_drawdown", bs.max_drawdown_difference),
    ("cvar95", bs.cvar_difference),
)


@dataclass(frozen=True, slots=True)
class StudyOptions:
    """What one study runs: range, output folder, benchmark files, workers, bootstrap."""

    start: date
    end: date
    out: Path
    cndr_path: Path | None = None
    sp500tr_path: Path | None = None
    tbill_path: Path | None = None
    jobs: int = 2
    samples: int = bs.DEFAULT_SAMPLES
    block_length: float = bs.DEFAULT_BLOCK_LENGTH
    seed: int = bs.DEFAULT_SEED
    keep_journals: bool = False
    ablations: bool = True
    #: Write each variant's ``alvh report`` page into ``out/variants/<name>/``.
    variant_pages: bool = False


@dataclass(slots=True)
class StudyResult:
    """What the study measured (also written to ``study.json``)."""

    options: StudyOptions
    variants: list[Variant]
    runs: dict[str, VariantRun]
    metrics: dict[str, SeriesMetrics]
    benchmarks: dict[str, Series] = field(default_factory=dict)
    differences: dict[str, Any] = field(default_factory=dict)
    cndr: Comparison | None = None
    claim: ClaimTest | None = None
    missing: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    replay_seconds: float = 0.0


def _vix_on(history: Any, sessions: Sequence[date]) -> list[float]:
    out = []
    for s in sessions:
        try:
            out.append(float(history.vix_close[history.index_of(s)]))
        except (KeyError, ValueError, IndexError):
            out.append(math.nan)
    return out


def run_study(
    config: AlvhConfig,
    options: StudyOptions,
    progress: Callable[[str], None] | None = None,
) -> StudyResult:
    """Run the study and write its outputs into ``options.out`` (created if missing).

    Raises:
        ReplayError, MarketDataError, JournalError: a replay cannot run.
        BenchmarkError: a given benchmark file cannot be read.
        ReportError: a variant's report page cannot be written.
    """
    began = time.perf_counter()
    say = progress or (lambda _text: None)
    options.out.mkdir(parents=True, exist_ok=True)
    benchmarks, missing = _load_benchmarks(options)
    variants = study_variants(options.ablations)
    if options.keep_journals:
        journal_dir = options.out / "journals"
        journal_dir.mkdir(exist_ok=True)
        for v in variants:  # a study writes fresh journals
            for suffix in ("", "-wal", "-shm"):
                Path(f"{journal_dir / v.name}.sqlite{suffix}").unlink(missing_ok=True)
        runs = _replay(config, variants, options, journal_dir, say)
    else:
        with tempfile.TemporaryDirectory(prefix="alvh-study-") as tmp:
            runs = _replay(config, variants, options, Path(tmp), say)
    from daemon.study.runner import _history

    history = _history()
    result = StudyResult(options, variants, runs, {}, benchmarks, missing=missing)
    result.replay_seconds = sum(r.seconds for r in runs.values())
    tbill = benchmarks.get("tbill")
    for name, run in runs.items():
        sessions = list(run.sessions)
        rate = tbill.on(sessions) if tbill else None
        result.metrics[name] = series_metrics(
            sessions, run.net_liq, rate, _vix_on(history, sessions)
        )
    for key in ("cndr_index", "sp500tr"):
        series = benchmarks.get(key)
        if series is None:
            continue
        sessions = list(series.dates)
        rate = tbill.on(sessions) if tbill else None
        result.metrics[key] = series_metrics(
            sessions, series.values, rate, _vix_on(history, sessions)
        )
    say("bootstrap")
    result.differences = _differences(result, history)
    if "cndr_index" in benchmarks and "cndr_replica" in runs:
        replica = runs["cndr_replica"]
        index = benchmarks["cndr_index"]
        result.cndr = compare_monthly(replica.sessions, replica.net_liq, index.dates, index.values)
    result.claim = _claim(result, history)
    result.wall_seconds = time.perf_counter() - began
    say("writing outputs")
    write_outputs(result)
    result.wall_seconds = time.perf_counter() - began
    (options.out / "study.json").write_text(
        json.dumps(study_json(result), indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    return result


def _replay(
    config: AlvhConfig,
    variants: list[Variant],
    options: StudyOptions,
    journal_dir: Path,
    say: Callable[[str], None],
) -> dict[str, VariantRun]:
    def done(run: VariantRun) -> None:
        say(f"replayed {run.variant} in {run.seconds:.1f} s")

    runs = run_variants(
        config,
        variants,
        options.start,
        options.end,
        journal_dir,
        options.jobs,
        on_done=done,
        report_dir=options.out / "variants" if options.variant_pages else None,
    )
    if not options.keep_journals:
        runs = {k: dataclasses.replace(r, journal=None) for k, r in runs.items()}
    return runs


def _load_benchmarks(options: StudyOptions) -> tuple[dict[str, Series], list[str]]:
    benchmarks: dict[str, Series] = {}
    missing: list[str] = []
    if options.cndr_path is not None:
        benchmarks["cndr_index"] = read_cndr(options.cndr_path).between(options.start, options.end)
    else:
        missing.append(
            "CNDR index (--cndr PATH or [study] cndr_path): no replica-vs-index comparison"
        )
    if options.sp500tr_path is not None:
        benchmarks["sp500tr"] = read_sp500tr(options.sp500tr_path).between(
            options.start, options.end
        )
    else:
        missing.append("S&P 500 total return (--sp500tr PATH or [study] sp500tr_path)")
    tbill_path = options.tbill_path or bundled_tbill()
    if tbill_path is not None:
        benchmarks["tbill"] = read_tbill(tbill_path)
    else:
        missing.append(
            "3-month T-bill rate (--tbill PATH or [study] tbill_path): Sharpe and Sortino "
            "are over a zero rate"
        )
    return benchmarks, missing


def _paired(result: StudyResult, a: str, b: str, history: Any) -> tuple[np.ndarray, ...] | None:
    """Excess daily returns of variants ``a`` and ``b`` on their common sessions, and VIX>30."""
    ra, rb = result.runs.get(a), result.runs.get(b)
    if ra is None or rb is None:
        return None
    common = sorted(set(ra.sessions) & set(rb.sessions))
    if len(common) < 3:
        return None
    tbill = result.benchmarks.get("tbill")
    rate = tbill.on(common) if tbill else None
    vix = _vix_on(history, common)
    la = dict(zip(ra.sessions, ra.net_liq, strict=True))
    lb = dict(zip(rb.sessions, rb.net_liq, strict=True))
    x = daily_returns(common, [la[d] for d in common], rate, vix)
    y = daily_returns(common, [lb[d] for d in common], rate, vix)
    high = regime_mask(x, ">30")
    return x.values - x.risk_free, y.values - y.risk_free, high


def _differences(result: StudyResult, history: Any) -> dict[str, Any]:
    """ALVH minus unhedged (several metrics, all and VIX>30), and each variant minus ALVH."""
    opts = result.options
    kw: dict[str, Any] = {
        "samples": opts.samples,
        "block_length": opts.block_length,
        "seed": opts.seed,
    }
    out: dict[str, Any] = {
        "method": (
            "paired stationary block bootstrap (Politis-Romano 1994) of daily returns in "
            f"excess of the T-bill rate; mean block {opts.block_length:g} sessions, "
            f"{opts.samples} resamples, seed {opts.seed}, 95% percentile intervals; "
            "cagr/vol annualised over 252 sessions; max_drawdown and cvar95 differences "
            "> 0 mean the first variant lost less"
        ),
        "alvh_minus_unhedged": {},
        "variant_minus_alvh": {},
    }
    pair = _paired(result, "alvh", "unhedged", history)
    if pair is not None:
        a, b, high = pair
        for regime, mask in (("all", None), (">30", high)):
            if mask is not None and int(mask.sum()) < 20:
                continue
            out["alvh_minus_unhedged"][regime] = {
                name: bs.paired_interval(a, b, stat, mask, **kw).as_json()
                for name, stat in DIFFERENCES
            }
    for variant in result.variants:
        if variant.name in ("alvh", "cndr_replica"):
            continue
        pair = _paired(result, variant.name, "alvh", history)
        if pair is None:
            continue
        a, b, _ = pair
        out["variant_minus_alvh"][variant.name] = {
            name: bs.paired_interval(a, b, stat, None, **kw).as_json()
            for name, stat in (("sharpe", bs.sharpe_difference), ("vol", bs.vol_difference))
        }
    return out


def _claim(result: StudyResult, history: Any) -> ClaimTest | None:
    pair = _paired(result, "alvh", "unhedged", history)
    if pair is None:
        return None
    a, b, high = pair
    o = result.options
    return check_claim(a, b, high, samples=o.samples, block_length=o.block_length, seed=o.seed)


# --------------------------------------------------------------------------- outputs


def summary_rows(result: StudyResult) -> list[dict[str, Any]]:
    """The rows of ``summary.csv``: variant (then benchmarks) x regime."""
    rows = []
    for name, sm in result.metrics.items():
        for regime in REGIMES:
            m = sm.regimes[regime]
            rows.append({"variant": name, "regime": regime, **_metric_cells(m)})
    return rows


def _metric_cells(m: Metrics) -> dict[str, str]:
    values = m.as_dict()
    return {k: _cell(values[k]) for k in METRIC_NAMES}


def _cell(value: float) -> str:
    return f"{value:.6f}" if math.isfinite(value) else ""


def write_outputs(result: StudyResult) -> None:
    """``summary.csv``, ``by_year.csv``, the PNGs and ``study.html`` in ``options.out``."""
    out = result.options.out
    with (out / "summary.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["variant", "regime", *METRIC_NAMES])
        writer.writeheader()
        writer.writerows(summary_rows(result))
    with (out / "by_year.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["variant", "year", *METRIC_NAMES])
        writer.writeheader()
        for name, sm in result.metrics.items():
            for year, m in sm.years.items():
                writer.writerow({"variant": name, "year": year, **_metric_cells(m)})
    from daemon.study.page import write_page
    from daemon.study.plots import write_plots

    images = write_plots(result, out)
    write_page(result, images, out / "study.html")


def study_json(result: StudyResult) -> dict[str, Any]:
    """``study.json``'s content."""
    o = result.options
    cndr = result.cndr.as_json() if result.cndr is not None else {}
    return {
        "start": o.start.isoformat(),
        "end": o.end.isoformat(),
        "wall_seconds": round(result.wall_seconds, 1),
        "replay_seconds": round(result.replay_seconds, 1),
        "jobs": o.jobs,
        "regime_rule": (
            "a daily return belongs to the regime of the previous session's VIX close: "
            "<20, 20-30 (inclusive), >30"
        ),
        "missing": result.missing,
        "cndr_monthly_correlation": cndr.get("cndr_monthly_correlation"),
        "cndr_tracking_error": cndr.get("cndr_tracking_error"),
        "cndr": cndr or None,
        "claim": result.claim.as_json() if result.claim is not None else None,
        "claim_sentence": result.claim.sentence() if result.claim is not None else None,
        "differences": result.differences,
        "variants": {
            v.name: {
                "description": v.description,
                "family": v.family,
                "overrides": {k: dict(val) for k, val in v.overrides.items()},
                "seconds": round(result.runs[v.name].seconds, 1),
                "summary": result.runs[v.name].summary,
            }
            for v in result.variants
            if v.name in result.runs
        },
        "metrics": {name: sm.as_json() for name, sm in result.metrics.items()},
    }
