"""Named crash points for the chaos campaign (``make chaos``).

``crash_point("after_intent")`` does nothing unless the environment variable
``ALVH_CRASH_AT`` names that point, as ``NAME`` (first time it is reached) or
``NAME:N`` (the N-th time). Then the process kills itself with SIGKILL on the
spot: no cleanup, no flush, exactly like ``kill -9`` or systemd's SIGKILL
after ``TimeoutStopSec``. The campaign restarts the daemon on the same journal
and gateway and checks that nothing was lost or doubled.

The variable is read once, at import; with it unset each call is one
attribute test.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("ALVH_CRASH_AT", "").strip()
_NAME, _, _NTH = _SPEC.partition(":")
_TARGET = int(_NTH) if _NTH.isdigit() and int(_NTH) > 0 else 1
_seen = 0

#: Every crash point in the code, in the order a trade passes them (for the campaign).
POINTS = (
    "connect",
    "after_connect",
    "after_restore",
    "reconcile",
    "before_quotes",
    "after_decision",
    "after_intent",
    "after_submitted",
    "walk_step",
    "before_fill_journaled",
    "after_fill_journaled",
    "after_adjusted",
    "after_order_result",
    "after_order_state",
    "before_settlement",
    "mark",
    "shutdown",
)


def crash_point(name: str) -> None:
    """SIGKILL this process if ``ALVH_CRASH_AT`` names ``name`` (see the module doc)."""
    global _seen
    if not _SPEC or name != _NAME:
        return
    _seen += 1
    if _seen == _TARGET:
        os.kill(os.getpid(), signal.SIGKILL)
