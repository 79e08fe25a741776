"""The CNDR replica against Cboe's published CNDR index: monthly correlation and tracking error.

Both series are reduced to calendar-month returns (last level of each month
over the previous month's last level, :func:`daemon.study.metrics.monthly_returns`)
over the months both cover. ``correlation`` is Pearson's of the paired
monthly returns; ``tracking_error`` is the annualised standard deviation of
their difference, ``std(replica - index, ddof=1) * sqrt(12)`` (a decimal).
Correlation does not depend on the replica's size (contracts per dollar);
tracking error does (see :data:`daemon.study.variants.CNDR_OVERRIDES`), so
the vol ratio and the tracking error of the vol-matched replica (its
returns scaled to the index's monthly standard deviation) are reported too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from daemon.study.metrics import monthly_returns

#: The acceptance bound of issue 10 for the monthly correlation 2007-2024.
ACCEPTANCE_CORRELATION = 0.85


@dataclass(frozen=True, slots=True)
class Comparison:
    """Replica vs index over their common months (returns decimals, by ``(year, month)``)."""

    months: tuple[tuple[int, int], ...]
    replica: tuple[float, ...]
    index: tuple[float, ...]
    correlation: float
    tracking_error: float
    vol_ratio: float
    tracking_error_vol_matched: float

    def as_json(self) -> dict[str, object]:
        def clean(x: float) -> float | None:
            return round(x, 6) if math.isfinite(x) else None

        return {
            "months": len(self.months),
            "first_month": _month(self.months[0]) if self.months else None,
            "last_month": _month(self.months[-1]) if self.months else None,
            "cndr_monthly_correlation": clean(self.correlation),
            "cndr_tracking_error": clean(self.tracking_error),
            "replica_to_index_vol_ratio": clean(self.vol_ratio),
            "cndr_tracking_error_vol_matched": clean(self.tracking_error_vol_matched),
            "acceptance_correlation": ACCEPTANCE_CORRELATION,
            "meets_acceptance": bool(
                math.isfinite(self.correlation) and self.correlation >= ACCEPTANCE_CORRELATION
            ),
            "largest_gaps": [
                {"month": _month(m), "replica": clean(r), "index": clean(i)}
                for m, r, i in sorted(
                    zip(self.months, self.replica, self.index, strict=True),
                    key=lambda row: -abs(row[1] - row[2]),
                )[:10]
            ],
            "monthly": [
                {"month": _month(m), "replica": clean(r), "index": clean(i)}
                for m, r, i in zip(self.months, self.replica, self.index, strict=True)
            ],
        }


def _month(month: tuple[int, int]) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def compare_monthly(
    replica_dates: Sequence[date],
    replica_levels: Sequence[float],
    index_dates: Sequence[date],
    index_levels: Sequence[float],
) -> Comparison:
    """Monthly returns of both series on their common months, and how close they are.

    The replica's first and last months are partial when the range does not
    start or end on a month end; only months where both have a return count.
    """
    a = monthly_returns(replica_dates, replica_levels)
    b = monthly_returns(index_dates, index_levels)
    months = tuple(sorted(set(a) & set(b)))
    ra = np.array([a[m] for m in months])
    rb = np.array([b[m] for m in months])
    if len(months) < 3:
        nan = math.nan
        return Comparison(months, tuple(ra), tuple(rb), nan, nan, nan, nan)
    corr = float(np.corrcoef(ra, rb)[0, 1])
    te = float(np.std(ra - rb, ddof=1) * math.sqrt(12))
    sa, sb = float(np.std(ra, ddof=1)), float(np.std(rb, ddof=1))
    ratio = sa / sb if sb > 0 else math.nan
    if sa > 0:
        scaled = (ra - ra.mean()) * (sb / sa) + ra.mean()
        te_matched = float(np.std(scaled - rb, ddof=1) * math.sqrt(12))
    else:
        te_matched = math.nan
    return Comparison(months, tuple(ra), tuple(rb), corr, te, ratio, te_matched)
