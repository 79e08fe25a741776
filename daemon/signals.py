"""SIGTERM and SIGINT before ``alvh run``'s event loop: remembered, acted on at a safe point.

Between the start of ``alvh run`` and the moment :class:`daemon.shutdown.Shutdown`
installs its handlers inside the event loop, the process imports its
libraries, loads the config and takes the journal lock. A stop signal then
must neither kill the process (exit 143) nor raise into whatever code runs
(a library's bare ``except:`` can swallow ``KeyboardInterrupt`` and the
start-up would carry on). :func:`latch_stop_signals` makes both signals only
record their name; ``alvh run`` checks :func:`take_pending_stop` before it
starts the loop (and exits 0), and ``Shutdown`` checks it once its own
handlers are in place (and stops at once). Nothing is journaled or sent
before either check.

Python runs signal handlers in the main thread only; call these from it.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

__all__ = ["latch_stop_signals", "take_pending_stop"]

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[str] = []


def latch_stop_signals() -> Callable[[], None]:
    """Make SIGTERM and SIGINT only remember that they came.

    Returns:
        A function that puts the previous handlers back.

    Raises:
        ValueError: not called from the main thread.
    """
    previous: dict[signal.Signals, object] = {}
    for sig in _STOP_SIGNALS:
        old = signal.getsignal(sig)
        signal.signal(sig, _remember)
        previous[sig] = signal.SIG_DFL if old is None else old

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    return restore


def take_pending_stop() -> str | None:
    """The first stop signal latched so far (``"SIGTERM"``/``"SIGINT"``), forgetting them all."""
    first = _received[0] if _received else None
    _received.clear()
    return first


def _remember(signum: int, _frame: FrameType | None) -> None:
    _received.append(signal.Signals(signum).name)
