"""Fitted parameters of the SPX surface and the VIX option model.

Provenance: fitted by ``scripts/fit_models.py --write`` on real Cboe
end-of-day delayed-quote chain snapshots (``../shared/data/chains``, sources
in ``../shared/data/SOURCES.md``; raw quotes are not redistributed, only these
parameters). Market IVs were recomputed from mids on put-call-parity
forwards, time measured from 16:00 ET of the quote date (or the download
time of intraday files); daily inputs (VIX9D, VIX, VIX3M, SKEW, VVIX) from
the bundled history of each quote date; event days from the bundled
CPI/FOMC calendar.

* :data:`SPX`: SPX/SPXW chains of the dates in :data:`FIT_DATES`
  (2022-01-07 .. 2024-01-05), OTM quotes with 5-45 calendar DTE and
  |delta| 0.05-0.50, robust least squares on IV in vol points, every date
  weighted equally. Leave-one-date-out validation: the README (Option model validation).
* :data:`VIX` and :data:`VIX_CURVE`: fitted by ``scripts/fit_vix_model.py
  --write`` (second block below). :data:`VIX`: real VIX call quotes of
  ``../shared/data/vix_options/`` (Cboe's VXTH daily data 2006-2013, the
  one-month ~30-delta call the VIX Tail Hedge index holds, mid only before
  2011; the 2023 Cboe VIX chain snapshots, standard monthly class only:
  the VIXW weeklies, never traded by the replay and quoted 2-5 times wider,
  are scored but not fitted, :data:`VIX_FIT_CLASSES`), a chain's quotes priced on the
  put-call-parity future of their expiry, VXTH's (calls only) on the CFE
  settlement of the future of its expiry, market IV from the mid, universe
  calls with 7-120 calendar DTE and mid >= 0.10
  (two ticks); robust least squares on IV in vol points, validated
  leave-one-year-out. :data:`VIX_CURVE`: the bundled CFE futures
  settlements 2009-09 .. 2024-12 against spot VIX and VIX3M. Sources listed
  in :data:`VIX_FIT_SOURCES`; raw quotes are not redistributed.

* :data:`VIX_SPREAD`: the VIX option half-spread ``(half_base + half_sqrt *
  sqrt(mid)) * (VIX / 20) ** half_level_exponent`` (index points), fitted by
  ``scripts/fit_vix_spread.py --write`` (third block below) on the real
  two-sided standard VIX option quotes of ``../shared/data/vix_options/``
  (VXTH 2011-2013, the 2023 chains without VIXW weeklies) on the tick grid of
  each quote's date, validated leave-one-year-out (``docs/cash-and-fills.md``).

Keys are field names of :class:`strategies.pricing.spx_surface.SpxSurfaceParams`,
:class:`strategies.pricing.vix_model.VixOptionParams` and
:class:`strategies.pricing.vix_model.VixCurveParams` and
:class:`strategies.pricing.chain_builder.SpreadParams`; units there.
"""

from __future__ import annotations

from typing import Final

# --- BEGIN FITTED (written by scripts/fit_models.py --write; do not edit by hand)
FIT_DATES: Final[tuple[str, ...]] = (
    "SPX_2022-01-07.csv",
    "SPX_2022-02-04.csv",
    "SPX_2022-02-18.csv",
    "SPX_2022-07-12_intraday1155.csv",
    "SPX_2023-02-03.csv",
    "SPX_2023-02-07.csv",
    "SPX_2023-04-10.csv",
    "SPX_2023-04-14.csv",
    "SPX_2023-04-17.csv",
    "SPX_2023-05-05.csv",
    "SPX_2023-05-19.csv",
    "SPX_2023-05-23.csv",
    "SPX_2023-06-08.csv",
    "SPX_2023-08-18.csv",
    "SPX_2023-09-14.csv",
    "SPX_2023-12-08.csv",
    "SPX_2024-01-05.csv",
)
SPX: Final[dict[str, float]] = {
    "nonsession_weight": 0.40830654645783965,
    "cpi_weight": 0.7095678824266569,
    "fomc_weight": 1.2113414577952915,
    "atm_ratio": 0.8448321979331633,
    "atm_ratio_skew": -0.07351962009205915,
    "atm_ratio_vix": 0.02770491731358803,
    "atm_ratio_term": -0.01226828290161407,
    "put_slope": 0.20730785392547993,
    "put_slope_skew": 0.06393627297169006,
    "put_slope_vix": 0.0853386082194496,
    "put_curvature": 0.0042553487958898765,
    "put_curvature_skew": -0.0016668007101241934,
    "call_slope": 0.2650606106008383,
    "call_slope_vix": 0.25911750776332654,
    "call_curvature": 0.09469935810627991,
    "slope_term_exponent": 0.23826743880277976,
}
# --- END FITTED

# --- BEGIN VIX FITTED (written by scripts/fit_vix_model.py --write; do not edit by hand)
VIX_FIT_SOURCES: Final[tuple[str, ...]] = (
    "vix_options/vxth_vix_calls_2006_2013.csv",
    "vix_chains_2023/VIX_chain_commit2023-03-22T0711ET_near_3fdd7e68.csv",
    "vix_chains_2023/VIX_chain_commit2023-04-17T0542ET_near_20de3dab.csv",
    "vix_chains_2023/VIX_chain_commit2023-05-03T0902ET_near_17a13ab1.csv",
    "vix_chains_2023/VIX_chain_commit2023-05-11T0659ET_near_ec6eebc4.csv",
    "vix_chains_2023/VIX_chain_commit2023-05-12T0946ET_near_67a7362b.csv",
    "chains/VIX_2023-05-15_intraday1147.csv",
    "vix_chains_2023/VIX_chain_commit2023-05-23T0928ET_near_d3119e64.csv",
    "vix_chains_2023/VIX_chain_commit2023-05-24T1133ET_near_9b58fa5b.csv",
    "vix_chains_2023/VIX_chain_commit2023-05-26T0536ET_near_e3d9695b.csv",
    "vix_chains_2023/VIX_chain_commit2023-05-29T1059ET_near_020edcfc.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-01T1019ET_near_20e42244.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-07T0538ET_near_3940b2a9.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-08T0649ET_near_71c5f79a.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-09T0922ET_near_7c1b149f.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-10T0312ET_near_a1211fb3.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-12T1158ET_near_9214f3e0.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-14T0733ET_near_df19541c.csv",
    "vix_chains_2023/VIX_chain_commit2023-06-15T0932ET_near_454be3ed.csv",
    "vix_chains_2023/VIX_chain_commit2023-07-04T0658ET_all_7e0daf67.csv",
    "vix_chains_2023/VIX_chain_commit2023-07-25T0851ET_all_b8369bdb.csv",
    "vix_chains_2023/VIX_chain_commit2023-09-04T1021ET_all_21ae1400.csv",
    "vix_chains_2023/VIX_chain_commit2023-10-05T0648ET_all_84793ff4.csv",
    "vix_chains_2023/VIX_chain_commit2023-10-10T0905ET_all_e987200c.csv",
    "vix_chains_2023/VIX_chain_commit2023-10-16T0909ET_all_6bfd0387.csv",
    "vix_chains_2023/VIX_chain_commit2023-10-17T0508ET_all_7941b1fe.csv",
    "vix_chains_2023/VIX_chain_commit2023-10-17T1031ET_all_faf64ffb.csv",
    "vix_chains_2023/VIX_chain_commit2023-10-18T1107ET_all_d3cf375f.csv",
)
VIX_FIT_CLASSES: Final[tuple[str, ...]] = ("VIX",)
VIX: Final[dict[str, float]] = {
    "vvix_ratio": 0.9471053027299988,
    "vvix_exponent": 0.9192650064849742,
    "term_exponent": 0.1440996831807173,
    "skew_term_exponent": 0.17218254240253167,
    "call_slope": 1.2648182585791352,
    "call_curvature": -0.22916625781108238,
    "call_slope_level": -0.48754882319214643,
    "basis_exponent": 0.2919833492948884,
    "level_exponent": 0.0409995893689208,
}
VIX_CURVE: Final[dict[str, float]] = {
    "kappa0": 7.729963874929266,
    "kappa_ratio_exponent": 1.9731268250771454,
    "theta_c0": 2.6456557489204133,
    "theta_vix3m": 2.0617741159882583,
    "theta_vix": -1.225905475835601,
}
# --- END VIX FITTED

# --- BEGIN FITTED VIX SPREAD (written by scripts/fit_vix_spread.py --write; do not edit by hand)
VIX_SPREAD_FIT_QUOTES: Final[int] = 2300
VIX_SPREAD: Final[dict[str, float]] = {
    "half_base": 0.013139795310814826,
    "half_sqrt": 0.006788058976840045,
    "half_level_exponent": 0.342626924125029,
}
# --- END FITTED VIX SPREAD
