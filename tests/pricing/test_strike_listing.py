"""The strike-listing model against the strikes Cboe listed (issue 10, deliverable 4).

The fixture holds real listed strikes (``tests/fixtures/listings``): SPXW
expiries of 7-21 DTE within 15% of spot from 17 chain dates, and complete
VIX chains of 2023.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from daemon.calendars.exchange import default_calendar
from strategies.pricing.strike_listing import (
    ExpiryKind,
    spx_expiry_kind,
    spx_listed_strikes,
    vix_listed_strikes,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "listings" / "strike_lists.json"
IS_SESSION = default_calendar().is_session


def _chains() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    chains: list[dict[str, Any]] = data["chains"]
    return chains


def _strikes(runs: list[list[float]]) -> set[float]:
    out: set[float] = set()
    for lo, hi, step in runs:
        if step == 0:
            out.add(lo)
            continue
        n = round((hi - lo) / step)
        out.update(round(lo + i * step, 4) for i in range(n + 1))
    return out


def _zone_counts(chain: dict[str, Any]) -> dict[str, list[int]]:
    """``[hits, real, model]`` near the money and in the condor zone (module doc of the fit)."""
    spot = float(chain["spot"])
    session = date.fromisoformat(chain["quote_date"])
    totals = {"near": [0, 0, 0], "condor": [0, 0, 0]}
    for e in chain["expiries"]:
        expiry = date.fromisoformat(e["expiry"])
        dte = (expiry - session).days
        move = chain["vix"] / 100.0 * math.sqrt(max(dte, 1) / 365.0)
        kind = spx_expiry_kind(expiry, IS_SESSION)
        model = {float(k) for k in spx_listed_strikes(spot, session, dte, kind)}
        real = _strikes(e["runs"])
        for name, lo, hi in (
            ("near", 0.0, 0.5 * move),
            ("condor", 0.5 * move, min(1.5 * move + 100.0 / spot, 0.15)),
        ):

            def inside(k: float, lo: float = lo, hi: float = hi) -> bool:
                x = abs(k / spot - 1.0)
                return (x <= hi) if lo == 0.0 else (lo < x <= hi)

            r = {k for k in real if inside(k)}
            m = {k for k in model if inside(k)}
            totals[name][0] += len(r & m)
            totals[name][1] += len(r)
            totals[name][2] += len(m)
    return totals


SPX_CHAINS = [c for c in _chains() if c["symbol"] == "SPX" and c["expiries"]]
VIX_CHAINS = [c for c in _chains() if c["symbol"] == "VIX"]


def test_fixture_covers_the_real_chain_dates() -> None:
    assert len(SPX_CHAINS) == 17
    assert {c["quote_date"][:4] for c in SPX_CHAINS} == {"2022", "2023", "2024"}
    assert len(VIX_CHAINS) >= 2


@pytest.mark.parametrize("chain", SPX_CHAINS, ids=lambda c: c["name"])
def test_spx_model_lists_the_real_strikes(chain: dict[str, Any]) -> None:
    counts = _zone_counts(chain)
    near, condor = counts["near"], counts["condor"]
    # share of real strikes the model lists, and share of model strikes that are real
    assert near[0] / near[1] >= 0.90 and near[0] / near[2] >= 0.90
    assert condor[0] / condor[1] >= 0.65 and condor[0] / condor[2] >= 0.85


def test_spx_model_pooled_match() -> None:
    hits = {"near": [0, 0, 0], "condor": [0, 0, 0]}
    for chain in SPX_CHAINS:
        for zone, c in _zone_counts(chain).items():
            hits[zone] = [a + b for a, b in zip(hits[zone], c, strict=True)]
    assert hits["near"][0] / hits["near"][1] >= 0.95
    assert hits["near"][0] / hits["near"][2] >= 0.95
    assert hits["condor"][0] / hits["condor"][1] >= 0.85
    assert hits["condor"][0] / hits["condor"][2] >= 0.90


def test_vix_ladder_matches_the_real_chains() -> None:
    checked = 0
    for chain in VIX_CHAINS:
        session = date.fromisoformat(chain["quote_date"])
        for e in chain["expiries"]:
            future = chain["futures"].get(e["expiry"])
            if future is None:
                continue
            dte = (date.fromisoformat(e["expiry"]) - session).days
            real = _strikes(e["runs"])
            model = {float(k) for k in vix_listed_strikes(future, dte)}
            near = {k for k in real if abs(k / future - 1.0) <= 0.25}
            assert near <= model, (chain["name"], e["expiry"], sorted(near - model))
            assert {k for k in model if abs(k / future - 1.0) <= 0.25} <= real
            checked += 1
    assert checked >= 10


def test_expiry_kinds() -> None:
    assert spx_expiry_kind(date(2023, 2, 17), IS_SESSION) is ExpiryKind.STANDARD
    # Good Friday 2022-04-15 was the third Friday: the standard expiry moved to Thursday.
    assert spx_expiry_kind(date(2022, 4, 14), IS_SESSION) is ExpiryKind.STANDARD
    assert spx_expiry_kind(date(2023, 2, 28), IS_SESSION) is ExpiryKind.END_OF_MONTH
    assert spx_expiry_kind(date(2023, 2, 10), IS_SESSION) is ExpiryKind.FRIDAY
    # Friday 2015-07-03 (Independence Day observed): that week's Friday expiry is Thursday.
    assert spx_expiry_kind(date(2015, 7, 2), IS_SESSION) is ExpiryKind.FRIDAY
    assert spx_expiry_kind(date(2023, 2, 8), IS_SESSION) is ExpiryKind.WEEKDAY


def test_spacing_widens_away_from_the_money() -> None:
    session = date(2023, 2, 3)
    strikes = spx_listed_strikes(4136.48, session, 14, ExpiryKind.WEEKDAY)
    gaps = np.diff(strikes)
    near = gaps[np.abs(strikes[1:] / 4136.48 - 1.0) < 0.01]
    far = gaps[np.abs(strikes[1:] / 4136.48 - 1.0) > 0.12]
    assert set(near.tolist()) == {5.0}
    assert far.min() >= 25.0
    assert np.all(strikes % 5.0 == 0.0)


def test_earlier_era_has_no_ten_point_strikes() -> None:
    modern = spx_listed_strikes(2800.0, date(2018, 6, 1), 14, ExpiryKind.FRIDAY)
    legacy = spx_listed_strikes(2800.0, date(2012, 6, 1), 14, ExpiryKind.FRIDAY)
    assert any(k % 10 == 0 and k % 25 != 0 and abs(k / 2800 - 1) > 0.1 for k in modern)
    off_grid = [k for k in legacy if k % 25 != 0]
    assert off_grid and max(abs(k / 2800 - 1) for k in off_grid) < 0.1  # 5-point band only
    assert len(legacy) < len(modern)


def test_vix_half_points_only_for_near_expiries() -> None:
    near = vix_listed_strikes(18.0, 20)
    far = vix_listed_strikes(18.0, 60)
    assert 12.5 in near and 12.5 not in far
    assert {20.0, 21.0, 42.5, 55.0} <= set(far.tolist())
    assert 20.5 not in far


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_bad_levels_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        spx_listed_strikes(bad, date(2023, 1, 3), 14, ExpiryKind.FRIDAY)
    with pytest.raises(ValueError, match="positive"):
        vix_listed_strikes(bad, 30)


def test_a_later_session_never_lists_fewer_strikes_nearby() -> None:
    # The grid depends on DTE bucket, not on the session within an era.
    a = spx_listed_strikes(4000.0, date(2023, 1, 3), 10, ExpiryKind.FRIDAY)
    b = spx_listed_strikes(4000.0, date(2023, 1, 3) + timedelta(days=7), 10, ExpiryKind.FRIDAY)
    assert np.array_equal(a, b)
