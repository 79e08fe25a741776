"""systemd integration: ``sd_notify`` messages and a watchdog that beats from inside the loop.

``alvh run`` runs as a ``Type=notify`` service (``deploy/alvh.service``). This
module speaks systemd's notification protocol without any third-party
dependency: one ``AF_UNIX``/``SOCK_DGRAM`` datagram of newline-separated
``KEY=VALUE`` assignments sent to the socket named by ``$NOTIFY_SOCKET`` (a
path, or ``@name`` for Linux's abstract namespace). When ``$NOTIFY_SOCKET`` is
unset (a terminal, a test, replay) every call is a no-op that returns
``False``; a send that fails (including a full socket queue: the socket is
non-blocking) is logged and reported as ``False``, never raised and never
waited for, so notification problems can never stop or stall the daemon.

What the daemon sends, in order (see the lead's wiring notes in
``deploy/README.md``)::

    READY=1            once: config loaded, journal open, broker connected,
                       jobs scheduled (systemd then reports the unit "active")
    STATUS=...         any time: one human line shown by ``systemctl status``
    WATCHDOG=1         every WatchdogSec/2, only from :class:`LoopWatchdog`
    STOPPING=1         when shutdown begins (SIGTERM)
    RELOADING=1        (with MONOTONIC_USEC) when a reload begins; READY=1 ends it

The watchdog is deliberately beaten by an asyncio task, never by a thread or
timer: if the event loop blocks (a synchronous call that hangs, a CPU-bound
loop, a deadlock), the beats stop and systemd kills and restarts the service
after ``WatchdogSec``. The task also measures how late it wakes up (event-loop
lag) and asks a health check (for example :class:`ServiceHealth`: the last
jobs succeeded and the broker link is up) before each beat.

Units: intervals, lags and timeouts are seconds (float) unless a name ends in
``_usec`` (microseconds, as systemd's environment variables are).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from daemon.strictmodel import StrictModel

__all__ = [
    "UNIT_TIMEOUT_STOP_S",
    "HealthCheck",
    "LoopWatchdog",
    "SdNotifier",
    "ServiceConfig",
    "ServiceHealth",
    "default_notifier",
    "ready",
    "reloading",
    "status",
    "status_head",
    "stopping",
    "watchdog",
    "watchdog_interval",
]


def _log() -> Any:
    """The module's structlog logger, taken at call time (after ``configure_logging``)."""
    from daemon.logs import get_logger

    return get_logger("alvh.service")


#: Longest STATUS text sent (systemd shows one line; datagrams stay small).
MAX_STATUS_CHARS = 400

HealthCheck = Callable[[], str | Awaitable[str | None] | None]
"""A health check: returns ``None`` when healthy, otherwise a one-line reason.

It may be a plain function or a coroutine function; a coroutine that does not
finish within the watchdog's ``check_timeout_s`` counts as unhealthy.
"""


# --------------------------------------------------------------------------- config

#: ``TimeoutStopSec`` of ``deploy/alvh.service``, seconds: after SIGTERM systemd
#: waits this long before SIGKILL. ``[service] stop_grace_s`` must be below it.
UNIT_TIMEOUT_STOP_S = 90.0


class ServiceConfig(StrictModel):
    """``[service]``: systemd watchdog and health thresholds (for the lead to mount).

    Attributes:
        watchdog: beat the systemd watchdog when ``$WATCHDOG_USEC`` asks for it.
            ``False`` never sends ``WATCHDOG=1`` (then ``WatchdogSec`` must be
            off in the unit, or systemd kills the service).
        max_loop_lag_s: a beat is skipped when the watchdog task woke up more
            than this many seconds late in the last beat period (the loop was
            blocked or starved). ``None`` = a quarter of the watchdog interval.
        max_job_failures: consecutive failed jobs after which the service is
            unhealthy (no more beats, so systemd restarts it).
        broker_grace_s: seconds the broker may stay disconnected before the
            service is unhealthy. IBC restarts the Gateway daily; the IB
            adapter reconnects by itself, so keep this well above the restart
            time. ``0`` disables the broker check.
        status_every_s: seconds between periodic ``STATUS=`` updates.
        stop_grace_s: seconds SIGTERM (or SIGINT) waits for a running job to
            finish before cancelling it; an order being walked is then
            cancelled or left in a journaled state the next start adopts.
            Must stay below :data:`UNIT_TIMEOUT_STOP_S` (the unit's
            ``TimeoutStopSec=90``) so the daemon disconnects, marks the run
            finished and exits before systemd sends SIGKILL.
    """

    watchdog: bool = True
    max_loop_lag_s: float | None = Field(default=None, gt=0.0, le=3600.0)
    max_job_failures: int = Field(default=3, ge=1, le=1000)
    broker_grace_s: float = Field(default=900.0, ge=0.0, le=86_400.0)
    status_every_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    stop_grace_s: float = Field(default=60.0, gt=0.0, lt=UNIT_TIMEOUT_STOP_S)


# --------------------------------------------------------------------------- notify


def _address(value: str) -> str | bytes | None:
    """The ``sendto`` address for a ``$NOTIFY_SOCKET`` value, or ``None`` if unsupported.

    ``/path`` is a filesystem socket; ``@name`` an abstract-namespace one
    (leading NUL byte). Other forms (``vsock:``, relative paths) are not
    supported by this client.
    """
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None


class SdNotifier:
    """A client of systemd's notification socket.

    Args:
        socket_path: the socket to notify; default ``$NOTIFY_SOCKET``. Empty or
            unset disables the notifier (every call returns ``False``).
        environ: environment to read (default ``os.environ``); for tests.

    Thread-safety: one ``sendto`` per message, so calls from several threads
    are safe, but the daemon only calls it from the event loop.
    """

    def __init__(
        self, socket_path: str | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        raw = socket_path if socket_path is not None else env.get("NOTIFY_SOCKET", "")
        self.socket_path: str = raw or ""
        self._address = _address(self.socket_path) if self.socket_path else None
        if self.socket_path and self._address is None:
            _log().warning("sd_notify_unsupported_socket", notify_socket=raw)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """Whether a usable notification socket is configured."""
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` assignments in one datagram.

        Returns:
            ``True`` if the datagram was sent; ``False`` when disabled or the
            send failed (logged at warning level; never raised).
        """
        if self._address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._sock is None:
                # Non-blocking: a notification socket nobody drains (a full
                # queue) must drop the datagram, never stall the event loop.
                self._sock = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                )
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            _log().warning("sd_notify_failed", notify_socket=self.socket_path, error=str(exc))
            self.close()
            return False
        return True

    def ready(self, status_text: str | None = None) -> bool:
        """``READY=1`` (startup finished), optionally with a ``STATUS=`` line."""
        return self.notify("READY=1", *_status_field(status_text))

    def status(self, text: str) -> bool:
        """``STATUS=text``: one line shown by ``systemctl status`` (newlines become spaces)."""
        return self.notify(*_status_field(text))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the service is alive. Call only from :class:`LoopWatchdog`."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status_text: str | None = None) -> bool:
        """``STOPPING=1``: shutdown has begun, optionally with a ``STATUS=`` line."""
        return self.notify("STOPPING=1", *_status_field(status_text))

    def reloading(self, status_text: str | None = None) -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC`` (required by ``Type=notify-reload``).

        Send :meth:`ready` when the reload has finished.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *_status_field(status_text))

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC``: ask for ``seconds`` more for a slow start or stop."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, round(seconds * 1e6))}")

    def close(self) -> None:
        """Close the socket (a later call opens a new one)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


#: IB market data types (``reqMarketDataType``) by code.
MARKET_DATA_TYPES: dict[int, str] = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed-frozen"}


def status_head(mode: str, broker: object, requested_data_type: int | None = None) -> str:
    """The start of every ``STATUS=`` line: mode, account and market-data type.

    ``paper DU123456 data=3(delayed)``. The account is the broker's
    ``account_id`` (``account=?`` before the account guard ran); the type is
    the one the broker reports it receives (``market_data_type``), else
    ``requested_data_type`` (the configured request), else ``data=?``.

    Args:
        mode: ``paper``, ``live`` or ``dry-run``.
        broker: the broker (attributes read with ``getattr``; any object works).
        requested_data_type: the configured ``[broker] market_data_type``.
    """
    account = getattr(broker, "account_id", None) or "account=?"
    code = getattr(broker, "market_data_type", None)
    if not isinstance(code, int):
        code = requested_data_type
    if isinstance(code, int):
        data = f"data={code}({MARKET_DATA_TYPES.get(code, 'unknown')})"
    else:
        data = "data=?"
    return f"{mode} {account} {data}"


def _status_field(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    line = " ".join(str(text).split())
    return (f"STATUS={line[:MAX_STATUS_CHARS]}",)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog interval systemd asks for, seconds; ``None`` if none (``sd_watchdog_enabled``).

    Reads ``$WATCHDOG_USEC`` (microseconds, > 0). When ``$WATCHDOG_PID`` is
    set it must be this process's pid, otherwise the watchdog belongs to
    another process (e.g. a parent shell) and ``None`` is returned. Malformed
    values give ``None``.
    """
    env = os.environ if environ is None else environ
    raw = env.get("WATCHDOG_USEC", "")
    try:
        usec = int(raw)
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1e6


_default: SdNotifier | None = None


def default_notifier() -> SdNotifier:
    """The process-wide notifier for the current ``$NOTIFY_SOCKET`` (rebuilt if it changed)."""
    global _default
    current = os.environ.get("NOTIFY_SOCKET", "")
    if _default is None or _default.socket_path != current:
        if _default is not None:
            _default.close()
        _default = SdNotifier(current)
    return _default


def ready(status_text: str | None = None) -> bool:
    """``READY=1`` through :func:`default_notifier` (no-op without ``$NOTIFY_SOCKET``)."""
    return default_notifier().ready(status_text)


def status(text: str) -> bool:
    """``STATUS=text`` through :func:`default_notifier`."""
    return default_notifier().status(text)


def watchdog() -> bool:
    """``WATCHDOG=1`` through :func:`default_notifier` (prefer :class:`LoopWatchdog`)."""
    return default_notifier().watchdog()


def stopping(status_text: str | None = None) -> bool:
    """``STOPPING=1`` through :func:`default_notifier`."""
    return default_notifier().stopping(status_text)


def reloading(status_text: str | None = None) -> bool:
    """``RELOADING=1`` through :func:`default_notifier`."""
    return default_notifier().reloading(status_text)


# --------------------------------------------------------------------------- health


@dataclass
class ServiceHealth:
    """The daemon's own health, fed by the runner and read by :class:`LoopWatchdog`.

    The runner calls :meth:`job_finished` after every scheduled job and passes
    ``broker_connected`` (e.g. ``lambda: broker.connected``). :meth:`check`
    is the watchdog's health check.

    Attributes:
        max_job_failures: consecutive failed jobs that make the service unhealthy.
        broker_grace_s: seconds the broker may be disconnected; ``0`` = no check.
        broker_connected: returns whether the broker link is up; ``None`` = no check.
        clock: monotonic seconds (for tests).
    """

    max_job_failures: int = 3
    broker_grace_s: float = 900.0
    broker_connected: Callable[[], bool] | None = None
    clock: Callable[[], float] = time.monotonic
    consecutive_failures: int = 0
    last_job: str | None = None
    last_job_ok: bool | None = None
    last_error: str | None = None
    _down_since: float | None = field(default=None, repr=False)

    @classmethod
    def from_config(
        cls, config: ServiceConfig, broker_connected: Callable[[], bool] | None = None
    ) -> ServiceHealth:
        """Thresholds from ``[service]``."""
        return cls(
            max_job_failures=config.max_job_failures,
            broker_grace_s=config.broker_grace_s,
            broker_connected=broker_connected,
        )

    def job_finished(self, job: str, error: BaseException | str | None = None) -> None:
        """Record a finished job: ``error=None`` for success, else the exception or reason."""
        self.last_job = job
        self.last_job_ok = error is None
        if error is None:
            self.consecutive_failures = 0
            self.last_error = None
        else:
            self.consecutive_failures += 1
            self.last_error = f"{job}: {error}"

    def check(self) -> str | None:
        """``None`` when healthy, else why not (one line)."""
        if self.consecutive_failures >= self.max_job_failures:
            return f"{self.consecutive_failures} consecutive job failures (last: {self.last_error})"
        if self.broker_connected is not None and self.broker_grace_s > 0:
            now = self.clock()
            if self.broker_connected():
                self._down_since = None
            else:
                if self._down_since is None:
                    self._down_since = now
                down = now - self._down_since
                if down > self.broker_grace_s:
                    return f"broker disconnected for {down:.0f} s (> {self.broker_grace_s:g} s)"
        return None


# --------------------------------------------------------------------------- watchdog


class LoopWatchdog:
    """Beats the systemd watchdog from an asyncio task, only while the loop is healthy.

    Every ``period_s`` (default half the watchdog interval) the task sends
    ``WATCHDOG=1`` if, during that period,

    * the task never woke up more than ``max_lag_s`` late from its short
      sleeps (``tick_s`` each) — i.e. the event loop was not blocked or
      starved — and
    * ``health_check`` (if any) returns ``None`` within ``check_timeout_s``.

    Otherwise it skips the beat and logs why; systemd restarts the service
    once no beat arrives for ``WatchdogSec``. Because the beats come from the
    loop itself, a blocked loop sends nothing at all.

    Args:
        notifier: where beats go; default :func:`default_notifier`.
        interval_s: the watchdog interval, seconds; default
            :func:`watchdog_interval` (``None`` there = watchdog disabled,
            :meth:`start` does nothing).
        max_lag_s: tolerated wake-up lag, seconds; default ``interval_s / 4``.
        health_check: see :data:`HealthCheck`.
        tick_s: lag-probe sleep, seconds; default ``min(1, period_s / 4)``.
        check_timeout_s: time limit of an async health check; default ``period_s / 4``.
        on_skip: called with the reason when a beat is skipped (e.g. to send STATUS).
        on_beat: called after each beat systemd received (e.g. to journal its
            time for the dashboard); an exception it raises is logged, never
            stops the watchdog.
        clock: monotonic seconds (for tests).
    """

    def __init__(
        self,
        notifier: SdNotifier | None = None,
        interval_s: float | None = None,
        *,
        max_lag_s: float | None = None,
        health_check: HealthCheck | None = None,
        tick_s: float | None = None,
        check_timeout_s: float | None = None,
        on_skip: Callable[[str], None] | None = None,
        on_beat: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier if notifier is not None else default_notifier()
        self.interval_s = interval_s if interval_s is not None else watchdog_interval()
        if self.interval_s is not None and self.interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {self.interval_s}")
        interval = self.interval_s or 0.0
        self.period_s = interval / 2.0
        self.max_lag_s = max_lag_s if max_lag_s is not None else interval / 4.0
        self.tick_s = tick_s if tick_s is not None else min(1.0, self.period_s / 4.0)
        self.check_timeout_s = (
            check_timeout_s if check_timeout_s is not None else max(self.period_s / 4.0, 0.001)
        )
        self.health_check = health_check
        self.on_skip = on_skip
        self.on_beat = on_beat
        self.clock = clock
        self.beats = 0
        self.skipped = 0
        self.last_lag_s = 0.0
        self.last_skip_reason: str | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(
        cls,
        config: ServiceConfig,
        health_check: HealthCheck | None = None,
        notifier: SdNotifier | None = None,
    ) -> LoopWatchdog | None:
        """A watchdog per ``[service]``, or ``None`` when disabled or systemd asks for none."""
        interval = watchdog_interval()
        if not config.watchdog or interval is None:
            return None
        return cls(notifier, interval, max_lag_s=config.max_loop_lag_s, health_check=health_check)

    @property
    def enabled(self) -> bool:
        """Whether there is a watchdog interval to honour."""
        return self.interval_s is not None

    @property
    def running(self) -> bool:
        """Whether the beating task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[None] | None:
        """Start beating in the running loop; returns the task (``None`` if disabled).

        Sends one beat at once (the loop is evidently running), then one per period.
        """
        if not self.enabled:
            return None
        if self.running:
            assert self._task is not None
            return self._task
        self._task = asyncio.get_running_loop().create_task(self.run(), name="alvh-watchdog")
        return self._task

    async def stop(self) -> None:
        """Stop beating and wait for the task to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self) -> None:
        """The beating loop (runs until cancelled)."""
        if self.interval_s is None:
            return
        self._beat()
        while True:
            lag = await self._sleep_period()
            self.last_lag_s = lag
            reason: str | None = None
            if lag > self.max_lag_s:
                reason = f"event loop lag {lag:.3f} s > {self.max_lag_s:.3f} s"
            else:
                reason = await self._check()
            if reason is None:
                self._beat()
            else:
                self._skip(reason)

    async def _sleep_period(self) -> float:
        """Sleep one period in ticks; return the largest wake-up lag seen, seconds."""
        clock = self.clock
        end = clock() + self.period_s
        worst = 0.0
        while True:
            now = clock()
            remaining = end - now
            if remaining <= 0:
                return max(worst, -remaining)
            step = min(self.tick_s, remaining)
            due = now + step
            await asyncio.sleep(step)
            worst = max(worst, clock() - due)

    async def _check(self) -> str | None:
        if self.health_check is None:
            return None
        try:
            result: Any = self.health_check()
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, self.check_timeout_s)
        except TimeoutError:
            return f"health check did not answer within {self.check_timeout_s:g} s"
        except Exception as exc:
            return f"health check failed: {exc!r}"
        return None if result is None else str(result)

    def _beat(self) -> None:
        if self.notifier.watchdog():
            self.beats += 1
            if self.on_beat is not None:
                try:
                    self.on_beat()
                except Exception as exc:  # recording a beat must never stop the beats
                    _log().warning(
                        "watchdog_beat_not_recorded", error=f"{type(exc).__name__}: {exc}"
                    )
        self.last_skip_reason = None

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.last_skip_reason = reason
        _log().warning("watchdog_skipped", reason=reason, lag_s=round(self.last_lag_s, 3))
        if self.on_skip is not None:
            try:
                self.on_skip(reason)
            except Exception:  # a status hook must never stop the watchdog
                _log().exception("watchdog_on_skip_failed")
