"""The method's claim: "18-25% lower volatility in high-VIX regimes than unhedged condors".

Metric tested (named in the output): the annualised volatility of daily
returns (:func:`daemon.study.bootstrap.annual_vol`) on the sessions whose
previous VIX close is above 30 (regime ``">30"``,
:mod:`daemon.study.metrics`), ALVH at defaults vs the unhedged condor over
the same range, as the relative difference ``vol(ALVH) / vol(unhedged) -
1`` (-0.20 = 20% lower). Its 95% interval comes from the paired stationary
block bootstrap (:mod:`daemon.study.bootstrap`).

Verdict (written whatever it is):

* ``"supported"``: the interval lies inside the claimed band [-25%, -18%];
* ``"consistent"``: the point estimate is inside the band, the interval is wider;
* ``"not supported: less reduction than claimed"``: the interval lies above
  -18% (the hedge reduces high-VIX volatility by less, or raises it);
* ``"not supported: more reduction than claimed"``: the interval lies below -25%;
* ``"inconclusive"``: otherwise (the point is outside the band but the
  interval reaches it);
* ``"untestable"``: fewer than 20 sessions above VIX 30 in the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from daemon.study.bootstrap import Interval, annual_vol, paired_interval, relative_vol_difference

#: The claimed band of the relative volatility difference (decimals).
CLAIM_LOW = -0.25
CLAIM_HIGH = -0.18
#: Fewest regime sessions for a test.
MIN_SESSIONS = 20

METRIC = (
    "relative difference of annualised volatility of daily returns on sessions whose "
    "previous VIX close is above 30: vol(ALVH) / vol(unhedged) - 1"
)


@dataclass(frozen=True, slots=True)
class ClaimTest:
    """The claim's test: metric, sessions, the two vols, the difference with its interval."""

    sessions: int
    vol_hedged: float
    vol_unhedged: float
    difference: Interval | None
    verdict: str

    def as_json(self) -> dict[str, object]:
        def clean(x: float) -> float | None:
            return round(x, 6) if math.isfinite(x) else None

        return {
            "claim": "18-25% lower volatility in high-VIX regimes than unhedged condors",
            "metric": METRIC,
            "regime": ">30",
            "claimed_band": [CLAIM_LOW, CLAIM_HIGH],
            "sessions": self.sessions,
            "vol_hedged": clean(self.vol_hedged),
            "vol_unhedged": clean(self.vol_unhedged),
            "relative_difference": None if self.difference is None else self.difference.as_json(),
            "verdict": self.verdict,
        }

    def sentence(self) -> str:
        """The verdict in one sentence with its numbers."""
        if self.difference is None:
            return (
                f"Untestable: only {self.sessions} sessions with VIX above 30 in the range "
                f"(at least {MIN_SESSIONS} needed)."
            )
        d = self.difference
        return (
            f"On {self.sessions} sessions with the previous VIX close above 30, ALVH's annualised "
            f"volatility was {self.vol_hedged:.1%} against {self.vol_unhedged:.1%} unhedged: "
            f"{d.estimate:+.1%} (95% block-bootstrap interval {d.low:+.1%} to {d.high:+.1%}); "
            f"the claim is {CLAIM_LOW:.0%} to {CLAIM_HIGH:.0%}. Verdict: {self.verdict}."
        )


def verdict_for(interval: Interval) -> str:
    """The verdict of an interval of the relative difference (see the module docstring)."""
    lo, hi, est = interval.low, interval.high, interval.estimate
    if lo >= CLAIM_LOW and hi <= CLAIM_HIGH:
        return "supported"
    if CLAIM_LOW <= est <= CLAIM_HIGH:
        return "consistent"
    if lo > CLAIM_HIGH:
        return "not supported: less reduction than claimed"
    if hi < CLAIM_LOW:
        return "not supported: more reduction than claimed"
    return "inconclusive"


def check_claim(
    hedged: np.ndarray,
    unhedged: np.ndarray,
    high_vix: np.ndarray,
    *,
    samples: int,
    block_length: float,
    seed: int,
) -> ClaimTest:
    """Test the claim on paired daily returns; ``high_vix`` marks the regime's sessions."""
    mask = np.asarray(high_vix, dtype=bool)
    n = int(mask.sum())
    vh, vu = annual_vol(hedged[mask]), annual_vol(unhedged[mask])
    if n < MIN_SESSIONS:
        return ClaimTest(n, vh, vu, None, "untestable")
    interval = paired_interval(
        hedged,
        unhedged,
        relative_vol_difference,
        mask,
        samples=samples,
        block_length=block_length,
        seed=seed,
    )
    return ClaimTest(n, vh, vu, interval, verdict_for(interval))
