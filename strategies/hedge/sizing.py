"""Hedge sizing: condor and hedge measured the same way, in dollars per 1-point rise of spot VIX.

Condor (per structure, from its quotes; Greeks in :class:`strategies.risk.Greeks` units)::

    loss = -(vega_$ * condor_iv_beta + delta_$ * SPX * spx_return_per_vix)

``vega_$`` is dollars per SPX vol point (negative for a short condor),
``delta_$`` dollars per SPX point. ``condor_iv_beta`` is how many vol points
the condor-tenor SPX implied vol moves per VIX point, ``spx_return_per_vix``
the SPX return per VIX point; both are OLS slopes of daily changes measured
on the bundled history by ``scripts/hedge_coefficients.py`` (defaults in
:class:`strategies.rules.HedgeRules`). The delta term matters once a wing is
threatened (a 0.20 net delta on 10 lots at SPX 5,000 is ~$470 per VIX point,
more than a typical condor's vega term); at entry it is near zero.

Hedge (per long VIX call; a spread nets its legs)::

    gain = 100 * delta * beta(T) + 100 * vega * iv * vvix_log_beta

``delta`` is per point of the call's own VIX future, and the future moves
``beta(T) = exp(-kappa T)`` points per spot-VIX point
(:func:`strategies.pricing.vix_model.future_spot_beta`; in replay the future
is the real CFE settlement, whose measured beta that curve matches within
about 0.05 over 40-90 days). The second term is vol of vol: VIX option vol
rises with VVIX, and ln VVIX rises ``vvix_log_beta`` per VIX point (measured
by the same script, 0.021), so the call's IV rises ``iv * vvix_log_beta``.
This is first order with an elasticity of 1: the replay's VIX option model
(:mod:`strategies.pricing.vix_model`) has an elasticity of about 0.85 to
VVIX, a basis term that lifts vol in a backwardated spike and a level term
that lowers it as the future rises. For a 60-DTE 10%-OTM call (delta
0.35, beta 0.37, vega 2.5 per share per 1.00 of vol, iv 0.9) that is $13 of
delta against $4.7 of vol of vol per contract: it matters, so it is in.

The target is ``share * sum(condor loss)`` (only a net loss is hedged) and a
new order fills ``target * weight - held``, where ``held`` sums the gain of
every hedge already held (rungs and recycled calls) at current quotes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    ChainSlice,
    FloatArray,
    LegQuote,
    OptionContract,
)
from strategies.positions import OpenStructure
from strategies.pricing.vix_model import future_spot_beta
from strategies.risk import structure_greeks
from strategies.rules import HedgeRules

Quotes = Mapping[OptionContract, LegQuote]


def condor_vix_loss(
    vega_dollars: float, delta_dollars: float, spx: float, rules: HedgeRules
) -> float:
    """Dollars a condor book loses per 1-point rise in spot VIX (module formula).

    Positive for a short-vol book. ``vega_dollars`` per SPX vol point,
    ``delta_dollars`` per SPX point, ``spx`` index points. A non-finite SPX
    drops the delta term.
    """
    vega_term = vega_dollars * rules.condor_iv_beta
    delta_term = (
        delta_dollars * spx * rules.spx_return_per_vix
        if math.isfinite(spx) and rules.spx_return_per_vix
        else 0.0
    )
    return -(vega_term + delta_term)


def condor_loss_of(position: OpenStructure, quotes: Quotes, spx: float, rules: HedgeRules) -> float:
    """:func:`condor_vix_loss` of one condor from its quotes' model greeks.

    Raises:
        ValueError: if a leg has no quote.
    """
    greeks = structure_greeks(position, quotes)
    return condor_vix_loss(greeks.vega, greeks.delta, spx, rules)


def call_vix_dollars(
    delta: float, vega: float, iv: float, t_years: float, rules: HedgeRules
) -> float:
    """Dollars one long VIX call gains per 1-point rise in spot VIX (module formula).

    ``delta`` per future point, ``vega`` per share per 1.00 of vol, ``iv``
    decimal, ``t_years`` to expiry. A non-finite vega or iv drops the vol
    term; a non-finite delta gives NaN.
    """
    beta = float(future_spot_beta(max(t_years, 0.0)))
    return _vix_dollars(delta, vega, iv, beta, rules)


def _vix_dollars(delta: float, vega: float, iv: float, beta: float, rules: HedgeRules) -> float:
    """:func:`call_vix_dollars` with the future's beta to spot VIX given."""
    vol = vega * iv * rules.vvix_log_beta if math.isfinite(vega * iv) else 0.0
    return CONTRACT_MULTIPLIER * (delta * beta + vol)


def _days_beta(days: int) -> float:
    """The beta :func:`call_vix_dollars` uses for ``days / 365.0`` years (the same float).

    Remembered: every hedge check values the same few expiries (a NumPy call
    on a scalar costs more than the rest of the formula). Keyed by the beta
    function too, so a test that replaces it is not served another's betas.
    """
    return _beta_of_days(future_spot_beta, days)


@functools.lru_cache(maxsize=4096)
def _beta_of_days(beta: Callable[[float], float | FloatArray], days: int) -> float:
    return float(beta(max(days / 365.0, 0.0)))


def slice_vix_dollars(chain: ChainSlice, index: int, rules: HedgeRules) -> float:
    """:func:`call_vix_dollars` of the call at ``chain.strikes[index]``."""
    return call_vix_dollars(
        float(chain.delta[index]),
        float(chain.vega[index]),
        float(chain.iv[index]),
        chain.t_years,
        rules,
    )


def hedge_vix_dollars(
    position: OpenStructure, quotes: Quotes, session: date, rules: HedgeRules
) -> float:
    """Dollars a held hedge structure gains per spot-VIX point, at its quotes.

    Time to expiry is calendar days / 365 from ``session``. NaN when a leg has
    no quote (the caller decides what an unknown hedge means).
    """
    total = 0.0
    for leg in position.legs:
        quote = quotes.get(leg.contract)
        if quote is None:
            return math.nan
        beta = _days_beta((leg.contract.expiry - session).days)
        total += (
            leg.ratio
            * position.quantity
            * _vix_dollars(quote.delta, quote.vega, quote.iv, beta, rules)
        )
    return total


@dataclass(frozen=True, slots=True)
class Exposure:
    """The book's VIX exposure, dollars per 1-point rise in spot VIX.

    Attributes:
        condor_loss: what the open condors lose (positive when short vol).
        hedge_gain: what the held hedges gain (rungs and recycled calls).
        share: the configured share.
    """

    condor_loss: float
    hedge_gain: float
    share: float

    @property
    def target(self) -> float:
        """``share * condor_loss`` (0 when the condors are not short VIX)."""
        return self.share * max(self.condor_loss, 0.0)

    def gap(self, weight: float = 1.0, without: float = 0.0) -> float:
        """``target * weight - (hedge_gain - without)``: what a new order may add.

        ``without`` is the gain of a hedge about to be closed (a roll or a
        harvest sizes its successor without it).
        """
        return self.target * weight - (self.hedge_gain - without)

    def as_inputs(self) -> dict[str, float]:
        return {
            "condor_loss_per_vix_point": self.condor_loss,
            "hedge_gain_per_vix_point": self.hedge_gain,
            "share": self.share,
            "target_per_vix_point": self.target,
        }
