"""Market data within IB's line budget, against the fake TWS.

The chain quotes only the strikes around the model's target deltas and their
wings (widened once when the quotes disagree), never opens more lines than
``market_data_lines_budget``, and survives IB error 101 by backing off.
"""

from __future__ import annotations

import numpy as np
import pytest

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import IBSettings
from daemon.brokers.ib.option_chains import model_strike
from strategies.domain import ChainSlice, Right
from tests.fake_tws import ErrorRule, In, Scenario
from tests.fake_tws.server import FakeTWS
from tests.ib.test_adapter_helpers import running_broker
from tests.ib.test_adapter_market_data import max_open_lines

MAX_TICKERS = "Max number of tickers has been reached"


def truth(scenario: Scenario, s: ChainSlice, delta: float, wing: float) -> tuple[float, float]:
    """The short (|delta| closest to ``delta`` over every listed strike) and its wing."""
    expiry = s.expiry.strftime("%Y%m%d")
    right = "P" if s.right is Right.PUT else "C"
    chain = scenario.chain("SPXW")
    best: tuple[float, float] | None = None
    strikes = sorted(chain.strikes)
    for k in strikes:
        quote = scenario.quote_for(scenario.option("SPXW", expiry, k, right))
        if quote is None or quote.greeks is None or quote.bid is None:
            continue
        distance = round(abs(abs(quote.greeks.delta) - delta), 9)
        if best is None or distance < best[0]:
            best = (distance, k)
    assert best is not None
    short = best[1]
    if s.right is Right.PUT:
        return short, max(k for k in strikes if k <= short - wing)
    return short, min(k for k in strikes if k >= short + wing)


def closest(s: ChainSlice, delta: float) -> float:
    usable = np.isfinite(s.delta) & np.isfinite(s.bid)
    return float(s.strikes[int(np.argmin(np.where(usable, np.abs(np.abs(s.delta) - delta), 9)))])


def assert_full(slices: list[ChainSlice]) -> None:
    assert slices
    for s in slices:
        assert len(s.strikes) and np.isfinite(s.bid).all() and np.isfinite(s.delta).all()


def test_settings_keep_headroom_below_the_allowance() -> None:
    assert IBSettings().lines_at_once == 80
    assert IBSettings(market_data_lines=50).lines_at_once == 50
    assert IBSettings(market_data_lines_budget=30).lines_at_once == 30
    with pytest.raises(ValueError):
        IBSettings(market_data_lines_budget=0)
    with pytest.raises(ValueError):
        IBSettings(strike_targets={"SPXW": (0.6, 50.0)})


def test_model_strike_inverts_black76_delta() -> None:
    put = model_strike(5000.0, 0.15, 14 / 365, 0.16, Right.PUT)
    call = model_strike(5000.0, 0.15, 14 / 365, 0.16, Right.CALL)
    move = 5000.0 * 0.15 * (14 / 365) ** 0.5
    assert put < 5000.0 < call
    assert 5000.0 - put == pytest.approx(move, rel=0.05)
    assert call - 5000.0 == pytest.approx(move, rel=0.05)


async def test_entry_chain_holds_the_16_delta_shorts_and_wings_in_few_lines() -> None:
    scenario = Scenario()
    async with running_broker(scenario, expiry_targets={"SPXW": 14}) as (tws, broker, log, _):
        slices = await broker.option_chain("SPX", "SPXW", 7, 21)
        assert_full(slices)
        assert {s.right for s in slices} == {Right.PUT, Right.CALL}
        for s in slices:
            short, wing = truth(scenario, s, 0.16, 50.0)
            assert closest(s, 0.16) == short
            assert short in s.strikes and wing in s.strikes
        lines = sum(len(s.strikes) for s in slices)
        assert lines <= 50  # the old expected-move window was ~120
        [plan] = log.events("ib_chain_plan")
        assert plan["widened"] == 0 and plan["lines"] == lines
        assert tws.market.lines_total == lines + 2  # + SPX and VIX for the forward


async def test_window_widens_once_when_the_quotes_disagree_with_the_model() -> None:
    # options priced at 25% vol while VIX says 15: the model's 16-delta strikes
    # are too close to the money, so the narrow window misses the real ones
    scenario = Scenario(vols={"SPX": 0.25, "VIX": 0.9})
    async with running_broker(scenario, expiry_targets={"SPXW": 14}) as (tws, broker, log, _):
        slices = await broker.option_chain("SPX", "SPXW", 7, 21)
        assert_full(slices)
        for s in slices:
            short, wing = truth(scenario, s, 0.16, 50.0)
            assert closest(s, 0.16) == short
            assert wing in s.strikes
            assert np.all(np.diff(s.strikes) > 0)
        [plan] = log.events("ib_chain_plan")
        assert plan["widened"] >= 1
        # each strike quoted once: the widening only asks for the strikes not yet quoted
        opened = [m.fields[2] for m in tws.messages(In.REQ_MKT_DATA)]
        assert len(opened) == len(set(opened))


async def test_peak_lines_never_exceed_the_budget() -> None:
    scenario = Scenario()
    async with running_broker(
        scenario, expiry_targets={"SPXW": 14}, market_data_lines_budget=15
    ) as (tws, broker, _log, _):
        await broker.market_context()
        slices = await broker.option_chain("SPX", "SPXW", 7, 21)
        vix = await broker.option_chain("VIX", "VIX", 45, 90, rights=(Right.CALL,))
        assert_full(slices)
        assert vix and all(np.isfinite(s.ask).any() for s in vix)
        assert sum(len(s.strikes) for s in slices) > 15
        assert tws.market.lines_peak <= 15
        assert max_open_lines(tws) <= 15


async def test_error_101_is_survived_with_full_results() -> None:
    scenario = Scenario()
    chain = scenario.chain("SPXW")
    near_the_shorts = frozenset(
        chain.con_id(expiry, float(k), right)
        for expiry in chain.expirations
        for k in range(4800, 4900, 5)
        for right in ("P", "C")
        if k in chain.strikes
    )
    # the first five of those option lines asked for are refused with 101
    rule = ErrorRule(In.REQ_MKT_DATA, 101, MAX_TICKERS, times=5, con_ids=near_the_shorts)
    scenario.error_rules.append(rule)
    async with running_broker(scenario, expiry_targets={"SPXW": 14}, line_refused_pause_s=0.01) as (
        tws,
        broker,
        log,
        _,
    ):
        slices = await broker.option_chain("SPX", "SPXW", 7, 21)
        assert_full(slices)
        for s in slices:
            short, wing = truth(scenario, s, 0.16, 50.0)
            assert short in s.strikes and wing in s.strikes
        [refused] = log.events("ib_market_data_lines_refused")
        assert refused["refused"] == 5 and refused["attempt"] == 1
        assert refused["batch"] == 40  # half of the 80-line budget
        assert tws.market.lines_peak <= 80


async def test_lines_held_by_others_are_backed_off() -> None:
    def hold(tws: FakeTWS) -> None:
        tws.market.line_limit = 20  # other clients hold 80 of the 100 lines

    scenario = Scenario()
    async with running_broker(
        scenario, setup=hold, expiry_targets={"SPXW": 14}, line_refused_pause_s=0.01
    ) as (tws, broker, log, _):
        slices = await broker.option_chain("SPX", "SPXW", 7, 21)
        assert_full(slices)
        assert tws.market.lines_peak <= 20
        refused = log.events("ib_market_data_lines_refused")
        assert refused and [r["batch"] for r in refused] == [40, 20][: len(refused)]


async def test_persistent_101_fails_loudly_not_with_empty_strikes() -> None:
    scenario = Scenario()
    scenario.error_rules.append(ErrorRule(In.REQ_MKT_DATA, 101, MAX_TICKERS, times=None))
    async with running_broker(
        scenario, expiry_targets={"SPXW": 14}, line_refused_pause_s=0.01, line_refused_retries=2
    ) as (_tws, broker, log, _):
        with pytest.raises(BrokerError, match="101"):
            await broker.market_context()
        assert [r["batch"] for r in log.events("ib_market_data_lines_refused")] == [40, 20]
