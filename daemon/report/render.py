"""Render one run of a journal: read it (read-only), draw the charts, write the page.

Output directory layout (``out_dir``): ``report.html`` plus the PNG files of
:data:`daemon.report.charts.CHART_FILES`, which the page names relatively,
and the page's tables as CSV for other tools (:data:`CSV_FILES`: one row per
structure, per (rule, action), per hedge tag; dates ISO, money dollars,
returns decimal, empty cell = no value).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import math
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from daemon.journal import Journal, JournalError
from daemon.journal.errors import DAMAGED_JOURNAL_ERRORS, damaged
from daemon.report.charts import CHART_FILES, draw_all
from daemon.report.data import RunReport, VixSource, gather
from daemon.report.page import CSV_FILES, render_page

__all__ = [
    "CSV_FILES",
    "PAGE_FILE",
    "ReportError",
    "bundled_vix",
    "render_report",
    "render_run_report",
]

#: File name of the page inside the output directory.
PAGE_FILE = "report.html"


class ReportError(Exception):
    """A journal, run or output directory the report cannot use; the message is one line."""


@functools.lru_cache(maxsize=2)
def _history_vix(bundle_dir: Path | None) -> dict[date, float]:
    from daemon.marketdata.loader import load_history

    history = load_history(bundle_dir)
    return {
        s: float(v)
        for s, v in zip(history.sessions, history.vix_close.tolist(), strict=True)
        if not math.isnan(v)
    }


def bundled_vix(bundle_dir: Path | None = None) -> VixSource:
    """A VIX source reading the bundled daily history (:func:`load_history`), loaded once.

    It answers ``None`` (no VIX line) when the bundle cannot be read or
    holds none of the sessions asked.
    """

    def source(sessions: Sequence[date]) -> tuple[dict[date, float], str] | None:
        from daemon.marketdata.loader import MarketDataError

        try:
            closes = _history_vix(bundle_dir)
        except MarketDataError:
            return None
        found = {s: closes[s] for s in sessions if s in closes}
        return (found, "the bundled daily history") if found else None

    return source


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value.isoformat() if isinstance(value, date) else value


def _write_csv(path: Path, rows: Iterable[object], header: Sequence[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow(_cell(getattr(row, name)) for name in header)


def write_tables(report: RunReport, out_dir: Path) -> dict[str, Path]:
    """Write the report's tables as CSV (:data:`CSV_FILES`) into ``out_dir``; name -> path."""
    from daemon.report.data import RuleCount, StructureRow

    paths = {name: out_dir / file for name, file in CSV_FILES.items()}
    _write_csv(
        paths["structures"],
        report.structures,
        [f.name for f in dataclasses.fields(StructureRow)],
    )
    _write_csv(paths["rules"], report.rules, [f.name for f in dataclasses.fields(RuleCount)])
    _write_csv(paths["tags"], report.tags, ["key", "structures", "realized", "open", "total"])
    return paths


def render_report(report: RunReport, out_dir: Path, title: str | None = None) -> Path:
    """Draw ``report``'s charts and write its page into ``out_dir`` (created if missing).

    Returns:
        The page's path (``out_dir / report.html``).

    Raises:
        ReportError: ``out_dir`` cannot be created or written.
    """
    heading = title or f"alvh run {report.info.id} [{report.info.mode}]"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        draw_all(report, out_dir, heading)
        write_tables(report, out_dir)
        page = out_dir / PAGE_FILE
        page.write_text(render_page(report, dict(CHART_FILES), heading), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{out_dir}: cannot write the report ({exc.strerror or exc})") from None
    return page


def render_run_report(
    journal_path: Path,
    run_id: int | None,
    out_dir: Path,
    title: str | None = None,
    vix: VixSource | None = None,
) -> Path:
    """Write the report of run ``run_id`` (``None`` = the last) of ``journal_path``.

    Args:
        journal_path: an alvh journal; opened read-only, never changed.
        run_id: the run; ``None`` for the journal's last run.
        out_dir: where ``report.html`` and its PNG files go (created if missing).
        title: the page's heading (default ``alvh run N [mode]``).
        vix: where VIX closes come from when the journal has no
            ``market_daily`` rows for the run (default: :func:`bundled_vix`).

    Returns:
        The page's path.

    Raises:
        ReportError: missing, foreign or damaged journal; no such run;
            output directory not writable. The message is one line.
    """
    if not journal_path.is_file():
        raise ReportError(f"{journal_path}: no such journal file")
    try:
        journal = Journal.open(journal_path, read_only=True)
    except JournalError as exc:
        raise ReportError(str(exc)) from None
    except DAMAGED_JOURNAL_ERRORS as exc:
        raise ReportError(str(damaged(journal_path, exc))) from None
    try:
        report = gather(journal, run_id, vix if vix is not None else bundled_vix())
    except JournalError as exc:
        raise ReportError(str(exc)) from None
    except DAMAGED_JOURNAL_ERRORS as exc:
        raise ReportError(str(damaged(journal_path, exc))) from None
    finally:
        with contextlib.suppress(Exception):  # read-only: nothing to lose on close
            journal.close()
    return render_report(report, out_dir, title)
