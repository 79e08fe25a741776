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
* :data:`VIX`: VIX calls of the snapshot(s) in :data:`VIX_FIT_DATES`
  (2023-05-15 11:47 ET), 30-120 DTE, at the money to 40 % OTM.

Keys are field names of :class:`strategies.pricing.spx_surface.SpxSurfaceParams`
and :class:`strategies.pricing.vix_model.VixOptionParams`; units there.
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
VIX_FIT_DATES: Final[tuple[str, ...]] = ("VIX_2023-05-15_intraday1147.csv",)
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
VIX: Final[dict[str, float]] = {
    "vvix_ratio": 0.8942108000709634,
    "term_exponent": 0.1472737019630672,
    "skew_term_exponent": 0.425756381849505,
    "call_slope": 1.7413669557029037,
    "call_curvature": -1.1779139084497352,
}
# --- END FITTED
