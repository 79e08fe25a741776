"""SPX surfaces remembered across the replays of one process (a sweep worker).

A day's SPX surface (:func:`strategies.pricing.spx_surface.build_spx_surface`
on the variance clock) is a pure function of the day's VIX-family levels, the
surface parameters, the session and the clock's holidays and events in its
window: never of the trades. Every point of a sweep prices the same sessions,
so a worker builds the same ~12,300 surfaces of 2007-2024 again for every
point (about 4% of a results-only point's CPU, issue 11).

:class:`SurfaceMemo` keeps them by exactly those inputs (the key of
:meth:`MarketModel.spx_surface`'s own per-run cache), so a hit is the surface
that would have been built. A surface is immutable; its variance clock fills
a table of day counts on demand, each count bit for bit the same whatever
filled it first (:class:`strategies.pricing.variance_clock._VarianceClock`).

Memory: a surface with its share of the session's clock is about 3 KB, so a
2007-2024 range costs a few tens of MB per worker; at ``max_entries`` it
stops remembering (what it holds keeps serving, the rest is built). Pure: a
dict in memory, no I/O; the shell decides who shares one (only sweep workers
do).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from strategies.pricing.spx_surface import SpxSurface

#: Entries kept at most: one 2007-2024 replay builds about 12,300 surfaces,
#: a sweep's points together ~13,200 (their held positions' extreme states
#: differ), so a full-range sweep fits.
DEFAULT_MAX_ENTRIES = 16_000


class SurfaceMemo:
    """A bounded map from a surface's inputs to the surface (see the module docstring).

    ``hits`` and ``misses`` count lookups (tests and benchmarks read them).

    Raises:
        ValueError: ``max_entries`` below 1.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.max_entries = max_entries
        self._memo: dict[Hashable, SpxSurface] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._memo)

    def get(self, key: Hashable, build: Callable[[], SpxSurface]) -> SpxSurface:
        """The surface remembered for ``key``, else ``build()`` remembered."""
        found = self._memo.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        value = build()
        if len(self._memo) < self.max_entries:
            self._memo[key] = value
        return value
