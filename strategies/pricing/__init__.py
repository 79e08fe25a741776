"""Option pricing for alvh: Black-76 greeks, implied vol, SPX and VIX vol models, chains.

Pure, vectorised numpy; no I/O. Modules:

* :mod:`.black` - Black-76 / Black-Scholes prices and greeks, strike from delta.
* :mod:`.implied_vol` - vectorised implied vol.
* :mod:`.spx_surface` - SPX surface from VIX9D/VIX/VIX3M/SKEW, built on
  :mod:`.spx_params` (its parameters), :mod:`.variance_clock` (weighted time)
  and :mod:`.spx_smile` (the smile).
* :mod:`.vix_model` - VIX futures curve, futures beta, VIX option vol.
* :mod:`.chain_builder` - :class:`~strategies.domain.ChainSlice` construction.
"""

from strategies.pricing.black import (
    BlackGreeks,
    black_greeks,
    black_price,
    forward_delta,
    forward_from_spot,
    is_call_flag,
    nearest_strike,
    strike_from_delta,
)
from strategies.pricing.chain_builder import (
    SPX_SPREAD,
    VIX_SPREAD,
    SpreadParams,
    quote_from_mid,
    spx_chain_slice,
    strike_grid,
    t_years,
    vix_chain_slice,
)
from strategies.pricing.implied_vol import implied_vol
from strategies.pricing.spx_surface import (
    SpxSurface,
    SpxSurfaceParams,
    build_spx_surface,
    spx_surface_from_context,
)
from strategies.pricing.vix_model import (
    VixCurveParams,
    VixOptionParams,
    future_spot_beta,
    vix_futures_curve,
    vix_option_atm_vol,
    vix_option_vol,
)

__all__ = [
    "SPX_SPREAD",
    "VIX_SPREAD",
    "BlackGreeks",
    "SpreadParams",
    "SpxSurface",
    "SpxSurfaceParams",
    "VixCurveParams",
    "VixOptionParams",
    "black_greeks",
    "black_price",
    "build_spx_surface",
    "forward_delta",
    "forward_from_spot",
    "future_spot_beta",
    "implied_vol",
    "is_call_flag",
    "nearest_strike",
    "quote_from_mid",
    "spx_chain_slice",
    "spx_surface_from_context",
    "strike_from_delta",
    "strike_grid",
    "t_years",
    "vix_chain_slice",
    "vix_futures_curve",
    "vix_option_atm_vol",
    "vix_option_vol",
]
