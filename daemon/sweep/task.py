"""One sweep point as a task: replay with a results-only journal, measure it, return everything.

:func:`run_point` is what a Dask worker runs (and what ``--workers 0`` runs
in-process). It loads the bundled market history once per process
(:func:`worker_history`; every later task of the same worker reuses it), replays
into a results-only journal in a temporary directory, computes
:func:`~daemon.sweep.metrics.point_metrics`, and returns the metrics, the
summary and the journal file's bytes, so the client can cache them on its own
disk whether the worker shares it or not (a 2007-2024 results-only journal is
about 1.7 MB).

Logging: the replay's event log is dropped (a sweep runs hundreds of replays;
the JSON event log of one costs about a quarter of its time, and warnings
such as the kill switch tripping would flood the terminal). Run ``alvh
replay`` with a point's config (``cache/KEY.json`` has it) to see its events;
a replay that raises is reported as the point's failure.

Shared work: the hedge signals (a pure function of the market history and the
``[signals]`` parameters) and the SPX surfaces (of the day's levels and the
variance clock) are the same for every point; the replays of one process
share a :class:`~daemon.replay.ReplayMemo` (:func:`worker_memo`), so the
second and later points of a worker reuse the first one's: the same values,
12-18% less CPU per point, about 35 MB more per worker over 2007-2024.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import time
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import structlog

from daemon.config import AlvhConfig
from daemon.replay import ReplayMemo, run_replay
from daemon.sweep.cache import versions
from daemon.sweep.metrics import point_metrics, worker_history

__all__ = ["run_point", "worker_history", "worker_memo"]

#: Replays started by this process (tests count them; a cached point adds none).
REPLAYS_STARTED = 0


def _drop(_logger: Any, _method: str, _event: Any) -> Any:
    raise structlog.DropEvent


def _quiet_logger() -> Any:
    """A structlog logger that writes nothing (events below ``warning`` cost nothing at all)."""
    return structlog.wrap_logger(
        None,
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        processors=[_drop],
    )


@cache
def worker_memo() -> ReplayMemo:
    """What this process's replays share (bounded: see :class:`~daemon.replay.ReplayMemo`)."""
    return ReplayMemo()


def run_point(config: AlvhConfig, start: date, end: date) -> dict[str, Any]:
    """Replay ``config`` over ``start..end`` with a results-only journal and measure it.

    Returns:
        ``run_id``, ``sessions``, ``metrics`` (:func:`point_metrics`),
        ``summary`` (the journal summary as JSON), ``journal`` (the journal
        file's bytes), ``elapsed_s`` and ``cpu_s`` (wall and CPU seconds of
        the replay; CPU of the whole worker process, which runs one task at a time),
        ``versions`` (this process's code and data versions), ``worker``
        (host and process id).

    Raises:
        ReplayError, MarketDataError, JournalError: as :func:`run_replay`.
    """
    global REPLAYS_STARTED
    history = worker_history()
    with tempfile.TemporaryDirectory(prefix="alvh-sweep-") as tmp:
        path = Path(tmp) / "point.sqlite"
        REPLAYS_STARTED += 1
        t0, c0 = time.perf_counter(), time.process_time()
        result = asyncio.run(
            run_replay(
                config,
                start,
                end,
                path,
                _quiet_logger(),
                history=history,
                results_only=True,
                memo=worker_memo(),
            )
        )
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        metrics = point_metrics(path, result.run_id)
        journal = path.read_bytes()
    return {
        "run_id": result.run_id,
        "sessions": result.sessions,
        "metrics": metrics,
        "summary": result.summary.as_json(),
        "journal": journal,
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "versions": versions(),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
