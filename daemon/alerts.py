"""Push alerts through apprise, sent off the event loop; never able to block or crash trading.

The engine, the executor and ``alvh run`` call :meth:`Alerts.notify` where
something a person should know happens (the kinds:
:data:`daemon.config.alerts.AlertKind`). ``notify`` only puts the alert on a
bounded queue and returns at once; it never raises and never waits. One
worker thread takes alerts off the queue and sends them with apprise to every
``[alerts] urls`` target:

* **rate limit**: at most ``max_per_minute`` sends in any 60 s window; an
  alert over the limit is counted, and once the window allows, one alert
  summarises what was suppressed (``3 alerts suppressed: fill x2, job_failed x1``);
  a full queue drops new alerts into the same count;
* **timeout**: each send runs in its own daemon thread that the worker waits
  for at most ``send_timeout_s``; a send still hanging then is abandoned (it
  ends when its socket does) and logged; while :data:`MAX_HUNG_SENDS` of them
  hang, further alerts are dropped instead of starting more threads;
* **failures**: an unreachable target, apprise reporting a failure or raising,
  all end in one ``alert_not_sent`` warning in the log; trading goes on.

:meth:`Alerts.close` lets the worker send what is queued (the ``stop`` alert)
for at most a given time; the worker is a daemon thread, so even a send that
hangs forever cannot keep the process alive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from daemon.config.alerts import AlertKind, AlertsConfig

#: Seconds of the rate limit's window.
RATE_WINDOW_S = 60.0
#: Abandoned sends that may hang at once before alerts are dropped instead.
MAX_HUNG_SENDS = 4
#: How often the idle worker wakes to send a pending suppression summary, seconds.
TICK_S = 1.0

Sender = Callable[[str, str, str], bool]
"""``send(title, body, kind)``: deliver one alert to every target; False (or raising) = failed."""


class AlertSink(Protocol):
    """What the engine needs: fire-and-forget alerts."""

    def notify(self, kind: AlertKind, title: str, body: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Alert:
    kind: str
    title: str
    body: str


_STOP = object()


def apprise_sender(urls: list[str]) -> Sender:
    """A :data:`Sender` posting to ``urls`` with apprise (a fresh apprise object per send,
    so an abandoned send never shares state with the next one)."""

    def send(title: str, body: str, kind: str) -> bool:
        import apprise  # here: only a daemon with alerts configured pays for the import

        types = {
            "job_failed": apprise.NotifyType.FAILURE,
            "entry_halt": apprise.NotifyType.WARNING,
            "fill": apprise.NotifyType.SUCCESS,
        }
        targets = apprise.Apprise()
        for url in urls:
            targets.add(url)
        return bool(
            targets.notify(
                body=body, title=title, notify_type=types.get(kind, apprise.NotifyType.INFO)
            )
        )

    return send


class Alerts:
    """The alert queue and its sending thread (see the module doc).

    Args:
        config: the ``[alerts]`` section.
        log: structlog-style logger (warnings about sends go there).
        sender: how to send one alert (default: apprise to ``config.urls``).
        clock: monotonic seconds, for the rate limit.

    Attributes:
        source: prefixed to every title (``run_live`` sets e.g. ``"alvh paper DU123"``).
        sent, failed: sends that succeeded / did not (failed, timed out or dropped
            while sends hang).
    """

    def __init__(
        self,
        config: AlertsConfig,
        log: Any,
        sender: Sender | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._log = log
        self._kinds = frozenset(config.events) if config.urls else frozenset()
        self._sender = sender or apprise_sender(config.url_texts())
        self._clock = clock
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=config.queue_size)
        self._lock = threading.Lock()
        self._suppressed: Counter[str] = Counter()
        self._window: deque[float] = deque()
        self._hung: list[threading.Thread] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self.source = "alvh"
        self.sent = 0
        self.failed = 0

    @classmethod
    def off(cls) -> Alerts:
        """Alerts that send nothing (replay, tests, no ``[alerts] urls``)."""
        return cls(AlertsConfig(), None, sender=lambda _t, _b, _k: True)

    @property
    def enabled(self) -> bool:
        """Whether any alert kind is sent at all."""
        return bool(self._kinds)

    def wants(self, kind: str) -> bool:
        """Whether alerts of ``kind`` are sent."""
        return kind in self._kinds

    # -- the caller's side: never blocks, never raises ------------------------
    def notify(self, kind: AlertKind, title: str, body: str) -> None:
        """Queue an alert and return at once (dropped and counted when the queue is full)."""
        if kind not in self._kinds or self._closed:
            return
        try:
            self._start()
            self._queue.put_nowait(_Alert(kind, f"{self.source}: {title}", body))
        except queue.Full:
            with self._lock:
                self._suppressed[kind] += 1
        except Exception as exc:  # e.g. no thread can be started: trading goes on
            self._warn("alert_not_queued", kind=kind, reason=f"{type(exc).__name__}: {exc}")

    def close(self, timeout: float) -> None:
        """Let the worker send what is queued for at most ``timeout`` seconds, then stop it."""
        if self._closed:
            return
        self._closed = True
        if self._thread is None:
            return
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                self._queue.put(_STOP, timeout=max(deadline - time.monotonic(), 0.001))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(deadline - time.monotonic(), 0.0))
        if self._thread.is_alive():
            self._warn("alerts_not_flushed", reason=f"sending took over {timeout:g} s")

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name="alvh-alerts", daemon=True)
                    thread.start()
                    self._thread = thread

    # -- the worker ----------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=TICK_S)
            except queue.Empty:
                item = None
            try:
                if self._room():
                    self._send_summary()
                if item is _STOP:
                    return
                if isinstance(item, _Alert):
                    if self._room():
                        self._deliver(item)
                    else:
                        with self._lock:
                            self._suppressed[item.kind] += 1
            except Exception as exc:  # the worker must outlive any bug of a send
                self._warn("alert_not_sent", reason=f"{type(exc).__name__}: {exc}")

    def _room(self) -> bool:
        """Whether the rate limit allows a send now."""
        now = self._clock()
        while self._window and now - self._window[0] >= RATE_WINDOW_S:
            self._window.popleft()
        return len(self._window) < self._config.max_per_minute

    def _send_summary(self) -> None:
        with self._lock:
            counts, self._suppressed = self._suppressed, Counter()
        if not counts:
            return
        total = sum(counts.values())
        detail = ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))
        self._deliver(
            _Alert(
                "summary",
                f"{self.source}: {total} alert{'s' if total != 1 else ''} suppressed",
                f"over the limit of {self._config.max_per_minute} per minute or the queue "
                f"of {self._config.queue_size}: {detail}; see the log for each",
            )
        )

    def _deliver(self, alert: _Alert) -> None:
        """Send one alert, waiting at most ``send_timeout_s``; counts it in the window."""
        self._window.append(self._clock())
        self._hung = [t for t in self._hung if t.is_alive()]
        if len(self._hung) >= MAX_HUNG_SENDS:
            self.failed += 1
            self._warn(
                "alert_not_sent",
                kind=alert.kind,
                title=alert.title,
                reason=f"{len(self._hung)} earlier sends still hang",
            )
            return
        outcome: list[BaseException | bool] = []

        def send() -> None:
            try:
                outcome.append(self._sender(alert.title, alert.body, alert.kind))
            except BaseException as exc:  # reported by the worker
                outcome.append(exc)

        thread = threading.Thread(target=send, name="alvh-alert-send", daemon=True)
        thread.start()
        thread.join(self._config.send_timeout_s)
        if thread.is_alive():
            self._hung.append(thread)
            self.failed += 1
            self._warn(
                "alert_not_sent",
                kind=alert.kind,
                title=alert.title,
                reason=f"no answer within {self._config.send_timeout_s:g} s (abandoned)",
            )
            return
        result = outcome[0] if outcome else False
        if result is True:
            self.sent += 1
            return
        self.failed += 1
        reason = (
            f"{type(result).__name__}: {result}"
            if isinstance(result, BaseException)
            else "a target refused it or could not be reached"
        )
        self._warn("alert_not_sent", kind=alert.kind, title=alert.title, reason=reason)

    def _warn(self, event: str, **fields: Any) -> None:
        if self._log is None:
            return
        try:
            self._log.warning(event, **fields)
        except Exception:  # a logger that fails must not stop alerts or trading
            return
