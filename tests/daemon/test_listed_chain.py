"""The replay trades only listed strikes and prices with the fitted calendar (issue 10, 4).

* the simulated chain offers only the listing model's strikes;
* quoting a strike that was not listed (and is not held) fails, as IB's
  contract lookup would;
* the model calendar carries holidays and scheduled CPI/FOMC days only, and
  the replay's variance clock equals the one the fit used;
* a real replay opens no unlisted strike (checked on its journal).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from daemon.brokers.base import BrokerError
from daemon.brokers.listing_audit import unlisted_opening_legs
from daemon.calendars.exchange import default_calendar
from daemon.calendars.macro import MacroCalendar, MacroEvent
from daemon.calendars.model_calendar import model_calendar
from daemon.cli import main
from daemon.logs import bind_clock, configure_logging
from daemon.marketdata.loader import load_history
from strategies.domain import Right
from strategies.pricing.market_model import MarketModel
from strategies.pricing.spx_surface import spx_surface_from_context
from strategies.pricing.strike_listing import ExpiryKind, spx_listed_strikes
from tests.daemon.test_simulated_broker import MON, Rig, spxw

CAL = default_calendar()


async def test_chain_offers_only_listed_strikes() -> None:
    rig = Rig()
    chain = await rig.broker.option_chain("SPX", "SPXW", 7, 21, rights=(Right.PUT,))
    assert chain
    for sl in chain:
        dte = (sl.expiry - MON).days
        kind = ExpiryKind.FRIDAY if sl.expiry.weekday() == 4 else ExpiryKind.WEEKDAY
        listed = set(spx_listed_strikes(2900.0, MON, dte, kind).tolist())
        assert set(sl.strikes.tolist()) <= listed
        gaps = set(np.diff(sl.strikes).tolist())
        assert 5.0 in gaps and max(gaps) > 5.0  # 5 points near the money, wider out


async def test_quoting_an_unlisted_strike_fails_but_held_ones_quote() -> None:
    rig = Rig()
    expiry = date(2019, 4, 18)  # Thursday before Good Friday: that week's Friday expiry
    strikes = (await rig.broker.option_chain("SPX", "SPXW", 10, 10))[0].strikes.tolist()
    below = [a for a, b in itertools.pairwise(strikes) if b - a >= 10.0]
    assert below  # coarser strikes away from the money
    missing = below[0] + 5.0
    assert missing not in strikes
    with pytest.raises(BrokerError, match="is not listed on 2019-04-08"):
        await rig.broker.quote([spxw(expiry, missing, Right.PUT)])
    quotes = await rig.broker.quote([spxw(expiry, below[0], Right.PUT)])
    assert quotes[0].contract.strike == below[0]


def test_model_calendar_has_holidays_and_scheduled_events_only() -> None:
    macro = MacroCalendar.from_events(
        [
            MacroEvent(date(2020, 3, 10), None, "CPI"),
            MacroEvent(date(2020, 3, 15), None, "FOMC", scheduled=False),
            MacroEvent(date(2020, 3, 18), None, "FOMC"),
            MacroEvent(date(2020, 3, 12), None, "PPI"),
        ]
    )
    cal = model_calendar(CAL, macro, date(2020, 1, 1), date(2020, 12, 31))
    assert date(2020, 4, 10) in cal.holidays  # Good Friday
    assert date(2020, 4, 11) not in cal.holidays  # a weekend day is not a "holiday"
    assert dict(cal.events) == {date(2020, 3, 10): ("CPI",), date(2020, 3, 18): ("FOMC",)}
    assert not cal.is_session(date(2020, 4, 10)) and cal.is_session(date(2020, 4, 9))


def test_replay_clock_equals_the_fitted_clock() -> None:
    history = load_history(calendar=CAL)
    macro = MacroCalendar.load()
    cal = model_calendar(CAL, macro, date(2019, 1, 1), date(2020, 1, 31))
    ctx = history.context(history.index_of(date(2019, 6, 3)))
    # What scripts/fit_models.py passes: holidays up to 130 days out, every CPI/FOMC day.
    holidays = {
        d
        for d in (ctx.session + timedelta(days=i) for i in range(131))
        if d.weekday() < 5 and not CAL.is_session(d)
    }
    events = {e.date: (e.kind,) for e in macro if e.kind in ("CPI", "FOMC")}
    fitted = spx_surface_from_context(ctx, holidays=holidays, events=events)
    replay = MarketModel(calendar=cal).spx_surface(ctx, 14)
    plain = MarketModel().spx_surface(ctx, 14)
    for dte in (7, 14, 21, 35):
        t = dte / 365.0
        assert float(replay.atm_vol(t)) == pytest.approx(float(fitted.atm_vol(t)), abs=1e-12)
    # CPI 2019-06-12 and FOMC 2019-06-19 fall inside 14 days: the clock moves the 14-day vol.
    assert abs(float(replay.atm_vol(14 / 365)) - float(plain.atm_vol(14 / 365))) > 1e-3


@pytest.fixture
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield
    bind_clock(None)
    configure_logging("info", "json", io.StringIO())


@pytest.mark.usefixtures("_isolated")
def test_a_replay_opens_no_unlisted_strike(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(
            [
                "replay", "--start", "2018-01-02", "--end", "2018-04-30", "--journal",
                str(journal), "--log-file", str(tmp_path / "events.log"), "--no-progress",
            ]
        )  # fmt: skip
    assert rc == 0
    history = load_history(calendar=CAL)
    model = MarketModel(
        calendar=model_calendar(CAL, MacroCalendar.load(), date(2018, 1, 1), date(2019, 6, 1))
    )
    legs, orders, bad = unlisted_opening_legs(journal, 1, history, model)
    assert legs > 20 and orders > 5
    assert bad == []
