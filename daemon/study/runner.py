"""Replay each study variant with the one engine and keep its daily net liquidation.

A variant's replay is :func:`daemon.replay.run_replay` with the variant's
config, into its own SQLite journal (a temporary directory unless the caller
keeps them). Variants are independent, so they run in a process pool
(``jobs`` workers; each loads the market bundle once) or one after another
(``jobs = 1``).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from daemon.config import AlvhConfig
from daemon.study.variants import Variant, apply_overrides


@dataclass(frozen=True, slots=True)
class VariantRun:
    """One replayed variant: its daily net liquidation (dollars) by session and run facts.

    Attributes:
        variant: the variant's name.
        sessions: session dates of the journal's ``daily`` rows, ascending.
        net_liq: net liquidation at each session's mark, dollars.
        journal: the journal file (``None`` once a temporary one is deleted).
        run_id: the replay's run id in ``journal``.
        seconds: wall time of the replay, seconds.
        summary: the journal summary as JSON (``JournalSummary.as_json``).
        report: the variant's ``alvh report`` page, when one was asked for.
    """

    variant: str
    sessions: tuple[date, ...]
    net_liq: tuple[float, ...]
    journal: Path | None
    run_id: int
    seconds: float
    summary: dict[str, Any]
    report: Path | None = None


_HISTORY: Any = None


def _history() -> Any:
    """The market bundle, loaded once per process."""
    global _HISTORY
    if _HISTORY is None:
        from daemon.calendars.exchange import default_calendar
        from daemon.marketdata.loader import load_history

        _HISTORY = load_history(calendar=default_calendar())
    return _HISTORY


def run_variant(
    config: AlvhConfig,
    variant: Variant,
    start: date,
    end: date,
    journal_path: Path,
    report_dir: Path | None = None,
) -> VariantRun:
    """Replay ``variant`` over ``start..end`` into ``journal_path`` (a new file).

    With ``report_dir`` the run's ``alvh report`` page (:mod:`daemon.report`)
    is written into ``report_dir/<variant name>/`` while the journal exists.

    Raises:
        ReplayError, MarketDataError, JournalError: as :func:`run_replay`.
        ValueError: the variant's overrides are not valid.
        ReportError: the variant's report cannot be written.
    """
    from daemon.journal import Journal
    from daemon.logs import configure_logging, get_logger
    from daemon.replay import run_replay

    configured = apply_overrides(config, variant.overrides)
    # The study reads journals, not event logs: keep only warnings, in memory.
    configure_logging("warning", "json", io.StringIO())
    log = get_logger("alvh.study", variant=variant.name)
    began = time.perf_counter()
    result = asyncio.run(run_replay(configured, start, end, journal_path, log, history=_history()))
    seconds = time.perf_counter() - began
    journal = Journal.open(journal_path, read_only=True)
    try:
        rows = journal.daily(result.run_id)
    finally:
        journal.close()
    report = None
    if report_dir is not None:
        from daemon.report.render import render_run_report

        title = f"{variant.name}: {variant.description} ({start} to {end})"
        report = render_run_report(journal_path, result.run_id, report_dir / variant.name, title)
    return VariantRun(
        variant.name,
        tuple(r.session for r in rows),
        tuple(float(r.net_liquidation) for r in rows),
        journal_path,
        result.run_id,
        seconds,
        result.summary.as_json(),
        report,
    )


def _run_one(args: tuple[AlvhConfig, Variant, date, date, Path, Path | None]) -> VariantRun:
    return run_variant(*args)


def run_variants(
    config: AlvhConfig,
    variants: Sequence[Variant],
    start: date,
    end: date,
    journal_dir: Path,
    jobs: int = 1,
    on_done: Callable[[VariantRun], None] | None = None,
    report_dir: Path | None = None,
) -> dict[str, VariantRun]:
    """Replay every variant (``jobs`` at a time) into ``journal_dir/<name>.sqlite``.

    With ``report_dir`` each variant's ``alvh report`` page is written into
    ``report_dir/<name>/``. Returns the runs by variant name, in the order of
    ``variants``.
    """
    tasks = [
        (config, v, start, end, journal_dir / f"{v.name}.sqlite", report_dir) for v in variants
    ]
    runs: dict[str, VariantRun] = {}
    if jobs <= 1:
        for task in tasks:
            run = _run_one(task)
            runs[run.variant] = run
            if on_done is not None:
                on_done(run)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for run in pool.map(_run_one, tasks):
                runs[run.variant] = run
                if on_done is not None:
                    on_done(run)
    return {v.name: runs[v.name] for v in variants}
