"""Hedge signals remembered across the replays of one process (a sweep worker).

The hedge signals (:func:`strategies.signals.compute_signals`: RSI of VIX,
MACD of VVIX, A/D divergence, VIX term structure, EMA/RSI recursions over a
250-session window) are a pure function of the signal window and the
``[signals]`` parameters; they never depend on the trades. Every point of a
sweep replays the same sessions over the same history, so a sweep worker
computes the same signals again for every point: about a tenth of a
results-only replay's CPU (measured on 2007-2024, issue 11).

:class:`SignalMemo` remembers them. Its key is the window's *content*, not
where it came from: the parameters, the decision session, the last row's
date, the row count, and a BLAKE2b digest of the seven series' bytes. Two
windows with the same key hold bit-identical arrays, so the memo returns
exactly what :func:`compute_signals` would (the signals do not read the
other dates). Nothing about the history object, the clock or the phase is
assumed, so a memo cannot serve a stale value when any of them changes.

Memory: about 0.5 KB per entry (one per session and visibility phase the
hedge looked at, per parameter set): 2007-2024 is about 4,600 entries, a
few MB. At ``max_entries`` it stops remembering and computes the rest
(what it holds keeps serving; a sweep over many ``[signals]`` values then
computes the later parameter sets as if there were no memo).

Live trading does not use it (each live window is computed once per
session anyway, by :meth:`daemon.engine.TradingEngine.current_signals`).
"""

from __future__ import annotations

import hashlib

from strategies.rules import SignalParams
from strategies.signals import HedgeSignals, SignalHistory, compute_signals

#: Entries kept at most: about four parameter sets of a 2007-2024 replay
#: (~4,600 each), ~10 MB.
DEFAULT_MAX_ENTRIES = 20_000

_SERIES = ("vix", "vvix", "spx", "advancing", "declining", "vix_m1", "vix_m2")

_Key = tuple[SignalParams, object, object, int, bytes]


def window_digest(window: SignalHistory) -> bytes:
    """BLAKE2b (16 bytes) of the window's seven float64 series, in a fixed order."""
    h = hashlib.blake2b(digest_size=16)
    for name in _SERIES:
        h.update(getattr(window, name).tobytes())
    return h.digest()


class SignalMemo:
    """Remembers :func:`compute_signals` by window content and parameters (see module doc).

    Call it like ``compute_signals(window, params)``. ``hits`` and ``misses``
    count lookups (tests and benchmarks read them).
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.max_entries = max_entries
        self._memo: dict[_Key, HedgeSignals] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._memo)

    def __call__(self, window: SignalHistory, params: SignalParams) -> HedgeSignals:
        last = window.dates[-1] if window.dates else None
        key = (params, window.session, last, len(window.dates), window_digest(window))
        found = self._memo.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        signals = compute_signals(window, params)
        if len(self._memo) < self.max_entries:
            self._memo[key] = signals
        return signals
