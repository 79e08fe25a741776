"""A model sharing a SurfaceMemo prices exactly as one without it, from remembered surfaces."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from strategies.domain import MarketContext, Right
from strategies.pricing.market_model import MarketCalendar, MarketModel
from strategies.pricing.surface_memo import SurfaceMemo

CTX = MarketContext(
    session=date(2023, 2, 3), spx=4136.48, vix=18.33, vix9d=17.76, vix3m=20.78,
    vvix=83.49, skew=123.08, vix_futures={date(2023, 3, 22): 20.548},
)  # fmt: skip


def _calendar() -> MarketCalendar:
    # a new calendar per run, as each replay builds its own (compared by identity)
    return MarketCalendar(
        holidays=frozenset({date(2023, 2, 20), date(2023, 4, 7)}),
        events={date(2023, 2, 14): ("CPI",), date(2023, 3, 22): ("FOMC",)},
    )


def test_shared_memo_prices_bit_for_bit_and_reuses_surfaces_across_runs() -> None:
    memo = SurfaceMemo()
    plain = MarketModel.from_config(rate=0.045, calendar=_calendar())
    first = MarketModel.from_config(rate=0.045, calendar=_calendar(), surfaces=memo)
    second = MarketModel.from_config(rate=0.045, calendar=_calendar(), surfaces=memo)
    expiry = date(2023, 2, 17)
    want = plain.slices(CTX, "SPX", "SPXW", expiry, (Right.PUT, Right.CALL))
    for model in (first, second):
        got = model.slices(CTX, "SPX", "SPXW", expiry, (Right.PUT, Right.CALL))
        for a, b in zip(want, got, strict=True):
            for name in ("strikes", "bid", "ask", "iv", "delta", "gamma", "vega", "theta"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert second.spx_surface(CTX) is first.spx_surface(CTX)
    assert memo.misses == 1 and memo.hits >= 2
    other = replace(CTX, vix=25.0)  # another level: another surface
    assert first.spx_surface(other) is not first.spx_surface(CTX) and memo.misses == 2
    cal = _calendar()  # the memo is not part of the model's identity
    assert MarketModel.from_config(calendar=cal) == MarketModel.from_config(
        calendar=cal, surfaces=memo
    )


def test_surface_memo_is_bounded() -> None:
    memo = SurfaceMemo(max_entries=2)
    model = MarketModel.from_config(calendar=_calendar(), surfaces=memo)
    for vix in (15.0, 16.0, 17.0):
        model.spx_surface(replace(CTX, vix=vix))
    assert len(memo) <= 2
    with pytest.raises(ValueError, match="max_entries"):
        SurfaceMemo(max_entries=0)
