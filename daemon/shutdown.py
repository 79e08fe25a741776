"""Clean stop of ``alvh run`` at any phase, within ``[service] stop_grace_s``.

:class:`Shutdown` supervises one run of the daemon (the body of
:func:`daemon.live.run_live`). Once its signal handlers are installed (the
first thing ``run_live`` does), SIGTERM and SIGINT no longer kill the process;
they ask it to stop, and what happens depends on the phase:

* **starting** (opening the journal, connecting, syncing executions,
  reconciling — anything before ``READY=1``): the start-up is abandoned at
  once by cancelling it wherever it waits. Nothing has been scheduled, so
  there is no work to let finish.
* **serving** (after ``READY=1``): the scheduler is paused so no new job
  starts, and a job already running (for example one walking an order's
  limit price) may finish until ``stop_grace_s - reserve`` seconds after the
  signal; then its task is cancelled (``task.cancel()``; the IB adapter
  cancels its working order at IB and re-raises) and given three quarters
  of the reserve more; the last quarter is for the close. ``reserve`` is a
  quarter of the grace, at most 15 s (60 s grace: jobs may run 45 s, a
  cancelled job gets 11.25 s). A second signal cancels running jobs at once.

Either way the same close follows: ``STOPPING=1``, the scheduler shut down,
the watchdog stopped, the broker disconnected, the run marked finished in the
journal (with its summary, or the start-up error), the journal closed, and
the exit status returned — 0 for a requested stop. The whole stop takes at
most about ``stop_grace_s`` seconds, which the systemd unit's
``TimeoutStopSec=90`` must exceed (60 s by default; see ``deploy/README.md``).

Start-up errors that reach the supervisor — a :class:`BrokerError`, or a
``TimeoutError`` / ``ConnectionError`` / ``OSError`` from a gateway request
nobody answered — end the run with one error line in the log and
:attr:`~daemon.exits.ExitStatus.BROKER` (4), never a traceback. Anything else
is a bug: the run is finished with the error and the exception propagates
(``alvh run`` logs its traceback as ``crashed``, prints one line and exits 1).

Units: seconds (float) throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from daemon.brokers.base import BrokerError
from daemon.crashpoints import crash_point
from daemon.exits import ExitStatus
from daemon.service import SdNotifier
from daemon.signals import take_pending_stop

__all__ = ["Shutdown", "stop_grace_s"]

_T = TypeVar("_T")

#: Longest part of the grace kept for cancelling jobs and closing, seconds.
MAX_RESERVE_S = 15.0

#: How long a disconnect may take during the close, seconds (less when the grace
#: runs out, but at least :data:`MIN_STEP_S`).
DISCONNECT_TIMEOUT_S = 5.0

#: Shortest wait given to a step of the stop even when the grace is used up, seconds.
MIN_STEP_S = 0.2

#: Exceptions that mean the gateway failed us during start-up (exit 4, no traceback).
STARTUP_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    BrokerError,
    TimeoutError,
    ConnectionError,
    OSError,
)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_grace_s(config: Any) -> float:
    """``[service] stop_grace_s`` of ``config`` (an ``AlvhConfig``), seconds.

    The configuration keeps it below the unit's ``TimeoutStopSec``
    (:data:`daemon.service.UNIT_TIMEOUT_STOP_S`).
    """
    return float(config.service.stop_grace_s)


class Shutdown:
    """Signals, phases and the ordered close of one ``alvh run``.

    Wiring, in the order :func:`daemon.live.run_live` calls it::

        shutdown = Shutdown(stop, grace_s, log, notifier)
        shutdown.install_signal_handlers()
        return await shutdown.run(body())   # body() calls the methods below:
            shutdown.run_started(journal, run_id, log)   # the run will be finished
            shutdown.broker = broker                     # ... and the broker disconnected
            shutdown.failed(reason)                      # a start-up failure (exit 3/4)
            await shutdown.job(name, coroutine)          # every job, so it can be drained
            shutdown.serving(scheduler, watchdog)        # READY: signals now drain jobs
            await shutdown.wait()                        # then return 0

    Args:
        stop: set to stop (by the signal handlers, or by a caller such as a test).
        grace_s: the stop grace, seconds (> 0): how long a stop may take.
        log: structlog bound logger.
        notifier: systemd notifier (``STOPPING=1`` and ``STATUS=`` lines).

    Attributes:
        broker: the broker to disconnect at the close (``None``: none yet).
        reason: what asked for the stop (``"SIGTERM"``, ``"SIGINT"``, ``"stop event"``),
            ``None`` until then.
    """

    def __init__(self, stop: asyncio.Event, grace_s: float, log: Any, notifier: SdNotifier) -> None:
        if not grace_s > 0:
            raise ValueError(f"stop grace must be > 0 seconds, got {grace_s}")
        self.grace_s = float(grace_s)
        self.reserve_s = min(MAX_RESERVE_S, self.grace_s / 4.0)
        #: How long a job cancelled at the grace may take to end, seconds.
        self.cancel_wait_s = 0.75 * self.reserve_s
        self.broker: Any = None
        self.reason: str | None = None
        self._stop = stop
        self._force = asyncio.Event()
        self._log = log
        self._notifier = notifier
        self._journal: Any = None
        self._run_id: int | None = None
        self._error: str | None = None
        self._scheduler: Any = None
        self._watchdog: Any = None
        self._ready = False
        self._requested_at: float | None = None
        self._jobs: dict[asyncio.Task[Any], str] = {}
        self._body: asyncio.Task[int] | None = None
        self._signals: list[int] = []

    # ------------------------------------------------------------------ wiring

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested (no job may start any more)."""
        return self._stop.is_set()

    @property
    def ready(self) -> bool:
        """Whether start-up finished (``READY=1`` was sent)."""
        return self._ready

    async def wait(self) -> None:
        """Return once a stop is requested."""
        await self._stop.wait()

    def install_signal_handlers(self) -> None:
        """Route SIGTERM and SIGINT to :meth:`request_stop` (call inside the running loop).

        A signal latched before (:func:`daemon.signals.take_pending_stop`)
        requests the stop at once.
        """
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self.request_stop, sig.name)
            self._signals.append(sig)
        early = take_pending_stop()
        if early is not None:
            self.request_stop(early)

    def remove_signal_handlers(self) -> None:
        """Give SIGTERM and SIGINT back to their defaults (idempotent)."""
        loop = asyncio.get_running_loop()
        while self._signals:
            loop.remove_signal_handler(self._signals.pop())

    def run_started(self, journal: Any, run_id: int, log: Any | None = None) -> None:
        """From now on every exit finishes ``run_id`` in ``journal`` and closes it.

        ``log`` (e.g. bound with the run id) replaces the logger given at construction.
        """
        self._journal = journal
        self._run_id = run_id
        if log is not None:
            self._log = log

    def failed(self, reason: str) -> None:
        """The run ends because of ``reason`` (journaled as the run's ``error``)."""
        self._error = reason

    def serving(self, scheduler: Any, watchdog: Any = None) -> None:
        """Start-up is over (call right before ``READY=1``).

        Args:
            scheduler: the APScheduler scheduler: paused when a stop is
                requested, shut down at the close.
            watchdog: a :class:`daemon.service.LoopWatchdog` (or ``None``),
                stopped at the close, after the jobs.
        """
        self._scheduler = scheduler
        self._watchdog = watchdog
        self._ready = True

    def request_stop(self, reason: str = "stop event") -> None:
        """Ask the daemon to stop (the signal handler); a second request forces it.

        Before READY the start-up is cancelled at once; after READY running
        jobs get the grace. Safe to call from the event loop at any time.
        """
        loop = asyncio.get_running_loop()
        if self._requested_at is not None:
            if not self._force.is_set():
                self._log.warning("stop_forced", signal=reason, jobs=sorted(self._jobs.values()))
                self._force.set()
            return
        self._requested_at = loop.time()
        self.reason = reason
        phase = "serving" if self._ready else "starting"
        self._log.info("stop_requested", signal=reason, phase=phase, grace_s=self.grace_s)
        self._notifier.stopping(f"stopping ({reason}, {phase})")
        self._stop.set()
        if self._scheduler is not None:
            with contextlib.suppress(Exception):  # not running yet / already stopped
                self._scheduler.pause()
        if not self._ready and self._body is not None and not self._body.done():
            self._body.cancel()

    async def job(self, name: str, work: Coroutine[Any, Any, _T]) -> _T | None:
        """Run one job as a task the stop can wait for and, at the grace, cancel.

        Args:
            name: the job's name (for logs).
            work: the job's coroutine.

        Returns:
            What ``work`` returns; ``None`` when it was not started because
            the daemon is stopping, or was cancelled at the stop grace.

        Raises:
            Exception: whatever ``work`` raised.
            asyncio.CancelledError: the caller itself was cancelled (the job
                is cancelled with it).
        """
        if self.stopping:
            work.close()
            self._log.info("job_not_started", job=name, reason="stopping")
            return None
        task: asyncio.Task[_T] = asyncio.get_running_loop().create_task(work, name=f"job:{name}")
        self._jobs[task] = name
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task}, timeout=self.cancel_wait_s)
            raise
        finally:
            self._jobs.pop(task, None)
        if task.cancelled():
            return None  # cancelled at the stop grace (the drain logged it)
        return task.result()

    # --------------------------------------------------------------- supervision

    async def run(self, body: Coroutine[Any, Any, int]) -> int:
        """Run the daemon's ``body`` until it returns or a stop ends it; then close.

        Args:
            body: the daemon's start-up and serving coroutine; it returns an
                exit status (0 once ``stop`` is set after READY).

        Returns:
            The exit status: 0 for a requested stop at any phase; the body's
            own status (3, 4); 4 when a start-up request failed or went
            unanswered (:data:`STARTUP_BROKER_ERRORS`).

        Raises:
            Exception: an unexpected error of the body (a bug), after the
                close (the run is finished with it).
        """
        loop = asyncio.get_running_loop()
        if self._stop.is_set():  # stopped before it started (a latched signal)
            body.close()
            if self._requested_at is None:
                self.request_stop("stop event")
            await self._close()
            return ExitStatus.OK
        body_task: asyncio.Task[int] = loop.create_task(body, name="alvh-run")
        self._body = body_task
        stop_wait = loop.create_task(self._stop.wait(), name="alvh-stop")
        try:
            await asyncio.wait({body_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if self._stop.is_set():
                if self._requested_at is None:  # set by a caller, not by a signal
                    self.request_stop("stop event")
                if not self._ready and not body_task.done():
                    body_task.cancel()  # also when the stop came before the body started
                if self._ready:
                    await self._drain_jobs()
                await self._wait_body(body_task)
            return self._status(body_task)
        except asyncio.CancelledError:
            body_task.cancel()
            await asyncio.wait({body_task}, timeout=self.cancel_wait_s)
            raise
        finally:
            stop_wait.cancel()
            await self._close()

    async def _wait_body(self, body_task: asyncio.Task[int]) -> None:
        """Let the body return after a stop; cancel it if it outlives the grace."""
        assert self._requested_at is not None
        loop = asyncio.get_running_loop()
        remaining = self._requested_at + self.grace_s - self.reserve_s / 4 - loop.time()
        await asyncio.wait({body_task}, timeout=max(remaining, MIN_STEP_S))
        if not body_task.done():
            self._log.warning("run_cancelled", reason="did not stop within the grace")
            body_task.cancel()
            await asyncio.wait({body_task}, timeout=MIN_STEP_S)

    def _status(self, body_task: asyncio.Task[int]) -> int:
        """The exit status for a finished body (logs start-up failures once)."""
        if not body_task.done():
            self._log.error("run_not_stopped", reason="the run ignored its cancellation")
            return ExitStatus.OK if self.stopping else ExitStatus.INTERNAL
        if body_task.cancelled():
            return ExitStatus.OK
        exc = body_task.exception()
        if exc is None:
            return body_task.result()
        if self.stopping and not self._ready:
            # an error raised while the start-up was being abandoned
            self._log.info("startup_abandoned", error=_one_line(exc))
            return ExitStatus.OK
        if not self._ready and isinstance(exc, STARTUP_BROKER_ERRORS):
            reason = _one_line(exc)
            self._log.error("broker_unavailable", reason=reason, phase="starting")
            self.failed(reason)
            return ExitStatus.BROKER
        self.failed(f"crashed: {_one_line(exc)}")
        raise exc  # a bug: ``alvh run`` logs its traceback and prints one line

    async def _drain_jobs(self) -> None:
        """Wait for running jobs until the job deadline (or a second signal); cancel the rest."""
        assert self._requested_at is not None
        loop = asyncio.get_running_loop()
        deadline = self._requested_at + self.grace_s - self.reserve_s
        force = loop.create_task(self._force.wait(), name="alvh-force")
        try:
            pending = {t for t in self._jobs if not t.done()}
            if pending:
                names = sorted(self._jobs[t] for t in pending)
                wait_s = max(deadline - loop.time(), 0.0)
                self._log.info("waiting_for_jobs", jobs=names, timeout_s=round(wait_s, 1))
                self._notifier.status(
                    f"stopping: waiting up to {wait_s:.0f} s for {', '.join(names)}"
                )
            while pending and not self._force.is_set():
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                await asyncio.wait(
                    {*pending, force}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                pending = {t for t in pending if not t.done()}
        finally:
            force.cancel()
        if not pending:
            return
        waited = loop.time() - self._requested_at
        for task in pending:
            self._log.warning(
                "job_cancelled",
                job=self._jobs.get(task, task.get_name()),
                after_s=round(waited, 1),
                reason="second signal" if self._force.is_set() else "stop grace reached",
            )
            task.cancel()
        _done, stuck = await asyncio.wait(pending, timeout=self.cancel_wait_s)
        for task in stuck:
            self._log.error("job_not_stopped", job=self._jobs.get(task, task.get_name()))

    async def _close(self) -> None:
        """Stop everything the run started, finish the run and close the journal."""
        crash_point("shutdown")
        if self._requested_at is None:
            self._notifier.stopping("shutting down")
        self._log.info("stopping", reason=self.reason or "start-up ended")
        if self._scheduler is not None:
            with contextlib.suppress(Exception):  # already shut down
                self._scheduler.shutdown(wait=False)
        if self._requested_at is None:
            await self._cancel_leftover_jobs()
        if self._watchdog is not None:
            await self._watchdog.stop()
        self.remove_signal_handlers()
        if self.broker is not None:
            timeout = DISCONNECT_TIMEOUT_S
            if self._requested_at is not None:  # what is left of the grace, at least a moment
                left = self._requested_at + self.grace_s - asyncio.get_running_loop().time()
                timeout = min(timeout, max(left, MIN_STEP_S))
            try:
                async with asyncio.timeout(timeout):
                    await self.broker.disconnect()
            except Exception as exc:
                self._log.warning("disconnect_failed", error=_one_line(exc))
        if self._journal is not None:
            try:
                if self._run_id is not None:
                    outcome: Any = (
                        {"error": self._error}
                        if self._error is not None
                        else self._journal.summary(self._run_id)
                    )
                    self._journal.finish_run(self._run_id, outcome)
            finally:
                self._journal.close()
        self._notifier.close()
        self._log.info("stopped", reason=self.reason or "start-up ended")

    async def _cancel_leftover_jobs(self) -> None:
        """The body ended by itself (not by a stop): cancel jobs it left running."""
        leftover = [t for t in self._jobs if not t.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.wait(leftover, timeout=self.cancel_wait_s)


def _one_line(exc: BaseException) -> str:
    """``exc`` as one line: its message, or its type when the message is empty."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if not text:
        if isinstance(exc, TimeoutError):
            return f"{name}: a request to the gateway got no answer within its timeout"
        return name
    return text if isinstance(exc, BrokerError) else f"{name}: {text}"
