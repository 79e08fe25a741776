"""The window of daily history the hedge signals are computed from.

Replay builds it from the bundle and live from journaled daily rows plus
historical bars; the signals never look past the decision session, and
:class:`SignalHistory` refuses a row dated after it.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from strategies.domain import FloatArray

_SERIES = ("vix", "vvix", "spx", "advancing", "declining", "vix_m1", "vix_m2")


@dataclass(frozen=True, slots=True, eq=False)
class SignalHistory:
    """Daily rows up to and including the decision session, oldest first.

    One row per exchange session. A value that is not available (e.g. VVIX
    before 2007, a missing breadth print) is NaN; the indicators treat a NaN
    as a missing session (see ``strategies.signals.indicators``).

    Attributes:
        session: the decision session; no row may be dated after it.
        dates: session dates, strictly increasing.
        vix: VIX index close, VIX points.
        vvix: VVIX index close, VVIX points.
        spx: SPX index close, index points.
        advancing, declining: NYSE advancing and declining issues, counts.
        vix_m1, vix_m2: settlement (or close) of the front and second VIX
            futures, VIX points.

    The arrays are float64 copies, read-only. Build one with
    :meth:`from_arrays`; direct construction is validated the same way.
    """

    session: date
    dates: tuple[date, ...]
    vix: FloatArray
    vvix: FloatArray
    spx: FloatArray
    advancing: FloatArray
    declining: FloatArray
    vix_m1: FloatArray
    vix_m2: FloatArray

    def __post_init__(self) -> None:
        n = len(self.dates)
        object.__setattr__(self, "dates", tuple(self.dates))
        for name in _SERIES:
            arr = np.array(getattr(self, name), dtype=np.float64)  # a copy
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n},) like dates")
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        if not all(map(operator.lt, self.dates, self.dates[1:])):  # one C loop, the usual case
            for earlier, later in zip(self.dates, self.dates[1:], strict=False):
                if later <= earlier:
                    raise ValueError(f"dates must be strictly increasing: {earlier} then {later}")
        if n and self.dates[-1] > self.session:
            future = [d.isoformat() for d in self.dates if d > self.session]
            raise ValueError(
                f"history has {len(future)} row(s) after the decision session "
                f"{self.session.isoformat()} (first {future[0]}): look-ahead"
            )

    @classmethod
    def from_arrays(
        cls,
        session: date,
        dates: Sequence[date],
        *,
        vix: npt.ArrayLike,
        spx: npt.ArrayLike,
        vvix: npt.ArrayLike | None = None,
        advancing: npt.ArrayLike | None = None,
        declining: npt.ArrayLike | None = None,
        vix_m1: npt.ArrayLike | None = None,
        vix_m2: npt.ArrayLike | None = None,
    ) -> SignalHistory:
        """Build a window from per-series arrays aligned with ``dates``.

        A series left out (``None``) is all NaN: the signals that need it come
        out NaN or false rather than failing.

        Raises:
            ValueError: a series' length differs from ``dates``, the dates are
                not strictly increasing, or a row is dated after ``session``.
        """
        n = len(dates)

        def series(values: npt.ArrayLike | None) -> FloatArray:
            if values is None:
                return np.full(n, np.nan)
            return np.asarray(values, dtype=np.float64)

        return cls(
            session=session,
            dates=tuple(dates),
            vix=series(vix),
            vvix=series(vvix),
            spx=series(spx),
            advancing=series(advancing),
            declining=series(declining),
            vix_m1=series(vix_m1),
            vix_m2=series(vix_m2),
        )

    def __len__(self) -> int:
        return len(self.dates)
