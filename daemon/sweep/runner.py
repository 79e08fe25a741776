"""Run a sweep's points: from the cache when finished, else as Dask tasks (or in-process).

Each unfinished point is one task, :func:`daemon.sweep.task.run_point`,
submitted to a Dask ``distributed`` client:

* by default a ``LocalCluster`` on this machine: ``n_workers`` = ``--workers``
  or the number of CPU cores, one process per worker, one thread each (a replay
  is pure Python: threads would share one interpreter lock), every socket on
  127.0.0.1 only;
* with ``--scheduler ADDRESS`` the user's cluster (``dask scheduler`` and
  ``dask worker ADDRESS``, each worker with alvh installed);
* with ``--workers 0`` no Dask at all: the points run one after the other in
  this process (debugging, tests).

Results come back as they finish (not in grid order); each is stored in the
cache at once (:class:`~daemon.sweep.cache.ResultCache`), so an interrupted
sweep (Ctrl-C, a killed client, a lost cluster) loses only the points that
were running, and the same command resumes. Before any task the workers are
asked for their code and data versions: a worker whose versions differ from
this client's is refused (its results would be cached under the wrong key).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from daemon.sweep.cache import ResultCache, point_key, versions
from daemon.sweep.grid import Point
from daemon.sweep.task import run_point

__all__ = ["PointOutcome", "SweepError", "SweepOutcome", "run_points"]


class SweepError(RuntimeError):
    """The sweep cannot run (scheduler unreachable, workers on other code); one line."""


@dataclass(frozen=True, slots=True)
class PointOutcome:
    """A finished point: its stored result (see :func:`_stored`) and whether it came cached."""

    point: Point
    key: str
    result: dict[str, Any]
    cached: bool


@dataclass(slots=True)
class SweepOutcome:
    """What :func:`run_points` did."""

    finished: list[PointOutcome] = field(default_factory=list)
    failed: list[tuple[Point, str]] = field(default_factory=list)
    ran: int = 0
    cached: int = 0
    interrupted: bool = False
    wall_s: float = 0.0
    workers: int = 0

    @property
    def replay_seconds(self) -> float:
        """Sum of the replay times of the points run now (wall seconds on the workers)."""
        return sum(o.result.get("elapsed_s", 0.0) for o in self.finished if not o.cached)

    @property
    def replay_cpu_seconds(self) -> float:
        """Sum of the CPU seconds the workers spent on the points run now."""
        return sum(o.result.get("cpu_s", 0.0) for o in self.finished if not o.cached)


def _warm() -> dict[str, str]:
    """Run on every worker before the tasks: load the history, report the versions."""
    from daemon.sweep.task import worker_history

    worker_history()
    return versions()


def _stored(point: Point, start: date, end: date, result: dict[str, Any]) -> dict[str, Any]:
    """The cached JSON of a finished point (the journal bytes go to their own file)."""
    return {
        "index": point.index,
        "params": point.params,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "config": json.loads(point.config.to_json()),
        **{k: v for k, v in result.items() if k != "journal"},
    }


def run_points(
    points: Sequence[Point],
    start: date,
    end: date,
    cache: ResultCache,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: bool = True,
    on_finished: Callable[[PointOutcome], None] | None = None,
) -> SweepOutcome:
    """Finish every point of ``points`` over ``start..end``, from ``cache`` or by replaying.

    Args:
        points: the grid points (their configs validated).
        start, end: the replay range, session dates inclusive.
        cache: where finished points are found and stored.
        workers: local Dask workers (default: CPU cores); ``0`` runs in-process.
        scheduler: a Dask scheduler address (``tcp://host:8786``) instead of a
            local cluster.
        client: an existing ``distributed.Client`` to use (tests); overrides
            ``workers`` and ``scheduler`` and is not closed.
        progress: draw a tqdm bar on a terminal.
        on_finished: called after each point is stored (tests interrupt a
            sweep from it by raising ``KeyboardInterrupt``).

    Ctrl-C (``KeyboardInterrupt``) stops the sweep: ``interrupted`` is set and
    every point finished so far is in the cache. A point whose replay raised
    is listed in ``failed`` with its one-line error; the others go on.

    Raises:
        SweepError: the scheduler is unreachable, or a worker runs other code
            or data than this client.
    """
    t0 = time.perf_counter()
    mine = versions()
    outcome = SweepOutcome()
    pending: dict[str, Point] = {}
    for point in points:
        key = point_key(point.config.to_json(), start, end, mine)
        stored = cache.get(key)
        if stored is not None:
            outcome.finished.append(PointOutcome(point, key, stored, cached=True))
            outcome.cached += 1
        elif key not in pending:
            pending[key] = point
    bar = _bar(len(points), outcome.cached, progress)

    def finish(key: str, result: dict[str, Any]) -> None:
        if result.get("versions") != mine:
            raise SweepError(
                f"worker {result.get('worker')} runs alvh code/data {result.get('versions')}, "
                f"this client {mine}: install the same alvh on every worker"
            )
        point = pending[key]
        stored = _stored(point, start, end, result)
        cache.put(key, stored, result["journal"])
        done = PointOutcome(point, key, {**stored, "key": key}, cached=False)
        outcome.finished.append(done)
        outcome.ran += 1
        if bar is not None:
            bar.update(1)
        if on_finished is not None:
            on_finished(done)

    def fail(key: str, exc: BaseException) -> None:
        outcome.failed.append((pending[key], f"{type(exc).__name__}: {exc}"))
        if bar is not None:
            bar.update(1)

    try:
        if not pending:
            pass
        elif client is None and scheduler is None and workers == 0:
            outcome.workers = 0
            for key, point in pending.items():
                try:
                    result = run_point(point.config, start, end)
                except Exception as exc:  # a failed replay: report it, go on
                    fail(key, exc)
                    continue
                finish(key, result)
        else:
            _run_dask(pending, start, end, mine, finish, fail, outcome, workers, scheduler, client)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    outcome.wall_s = time.perf_counter() - t0
    return outcome


def _run_dask(
    pending: dict[str, Point],
    start: date,
    end: date,
    mine: dict[str, str],
    finish: Callable[[str, dict[str, Any]], None],
    fail: Callable[[str, BaseException], None],
    outcome: SweepOutcome,
    workers: int | None,
    scheduler: str | None,
    client: Any,
) -> None:
    from dask.distributed import as_completed

    own_client, cluster = None, None
    if client is None:
        own_client, cluster = _connect(workers, scheduler)
        client = own_client
    futures: list[Any] = []
    try:
        warm = client.run(_warm)
        outcome.workers = len(warm)
        for worker, theirs in warm.items():
            if theirs != mine:
                raise SweepError(
                    f"Dask worker {worker} runs alvh code/data {theirs}, this client {mine}: "
                    "install the same alvh on every worker"
                )
        by_future: dict[Any, str] = {}
        for key, point in pending.items():
            future = client.submit(run_point, point.config, start, end, key=f"alvh-point-{key}")
            by_future[future] = key
            futures.append(future)
        for future in as_completed(futures):
            key = by_future[future]
            try:
                result = future.result()
            except (KeyboardInterrupt, SweepError):
                raise
            except Exception as exc:  # the replay raised on the worker
                fail(key, exc)
                continue
            finish(key, result)
    finally:
        for future in futures:
            future.cancel()
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()


def _connect(workers: int | None, scheduler: str | None) -> tuple[Any, Any]:
    """A client of the scheduler at ``scheduler``, or of a new local cluster of ``workers``.

    Raises:
        SweepError: the scheduler cannot be reached (one line).
    """
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    n = workers if workers is not None else (os.cpu_count() or 1)
    # Ctrl-C reaches the whole process group: the worker processes start with SIGINT
    # ignored (inherited), so only this process reacts, cancels and closes them cleanly.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # the scheduler's and workers' HTTP servers (status, metrics; the dashboard if
            # bokeh is installed) on loopback at free ports: never 0.0.0.0, never a clash
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL,
        )
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster


def _bar(total: int, done: int, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="point", desc="sweep", file=sys.stderr)


def stored_path(cache: ResultCache, outcome: PointOutcome) -> Path:
    """The cached journal of a finished point."""
    return cache.journal_path(outcome.key)
