"""Market-data lines and time of an entry quote and a hedge check on the fake TWS.

Usage::

    .venv/bin/python scripts/ib_lines.py [--budget 80] [--others 0]

Runs the fake TWS of ``tests/fake_tws`` in this process (the real socket
protocol, the unmodified ib_async client) and an :class:`IBBroker` with the
default :class:`IBSettings` (plus ``expiry_targets={"SPXW": 14}`` as
``alvh run`` sets it), then measures the broker calls the engine makes:

* ``entry``: ``market_context()`` then the SPXW chain (DTE 7..21), as
  ``TradingEngine.entry_job``;
* ``hedge_check``: quotes of the four legs of the condor the entry would
  open (16-delta shorts, 50-point wings), ``market_context()`` and the VIX
  call chain (the ``[hedge]`` rung window, DTE 30..90), as
  ``TradingEngine.hedge_check_job``.

For each it prints ``lines peak`` (most streaming lines open at once, as the
fake counts them), ``lines total`` (lines opened) and ``seconds``.
``--others N`` makes the fake refuse lines past ``100 - N`` open (error 101),
as if TWS or other clients held ``N`` lines. The exit status is 0 when the
entry stays within 60 lines and 2 s and the hedge check within 60 lines.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from daemon.brokers.ib import IBBroker, IBSettings
from strategies.domain import ChainSlice, OptionContract, Right
from strategies.rules import HedgeRules
from tests.fake_tws import FakeTWS, Scenario
from tests.ib.test_adapter_helpers import RecordingLog, session_clock

ENTRY_LINES, ENTRY_SECONDS, HEDGE_LINES = 60, 2.0, 60


def condor_legs(chain: list[ChainSlice], delta: float, wing: float) -> list[OptionContract]:
    """The 16-delta shorts and their wings, as the condor rules would pick them."""
    legs: list[OptionContract] = []
    for s in chain:
        usable = np.isfinite(s.delta) & np.isfinite(s.bid)
        short = int(np.argmin(np.where(usable, np.abs(np.abs(s.delta) - delta), np.inf)))
        below = s.right is Right.PUT
        target = s.strikes[short] - wing if below else s.strikes[short] + wing
        side = s.strikes <= target if below else s.strikes >= target
        candidates = np.flatnonzero(side & usable)
        long = int(candidates[-1] if below else candidates[0])
        for k in (s.strikes[short], s.strikes[long]):
            legs.append(OptionContract("SPX", s.trading_class, s.expiry, float(k), s.right))
    return legs


async def measure(
    tws: FakeTWS, name: str, step: Callable[[], Awaitable[Any]]
) -> tuple[Any, int, int, float]:
    """Run ``step`` and print its lines peak, lines total and seconds."""
    await asyncio.sleep(1.1)  # let the previous step's cancels leave the pacing window
    tws.market.lines_peak = tws.market.lines_total = 0
    started = time.perf_counter()
    result = await step()
    seconds = time.perf_counter() - started
    peak, total = tws.market.lines_peak, tws.market.lines_total
    print(f"{name:<12} lines peak {peak:3d}  lines total {total:3d}  seconds {seconds:5.2f}")
    return result, peak, total, seconds


async def main(budget: int, others: int) -> int:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)  # 101/200 answers are expected
    scenario = Scenario()
    today: date = scenario.today
    async with FakeTWS(scenario) as tws:
        if others:
            tws.market.line_limit = 100 - others
        settings = IBSettings(
            host="127.0.0.1",
            port=tws.port,
            client_id=17,
            market_data_lines_budget=budget,
            expiry_targets={"SPXW": 14},
        )
        broker = IBBroker(settings, log=RecordingLog(), clock=session_clock(today))
        await broker.connect()
        try:
            await broker.market_context()  # warm the contract look-ups, as a running daemon has

            async def entry() -> list[ChainSlice]:
                await broker.market_context()
                return await broker.option_chain("SPX", "SPXW", 7, 21)

            chain, e_peak, _e_total, e_seconds = await measure(tws, "entry", entry)
            delta, wing = settings.strike_targets["SPXW"]
            legs = condor_legs(chain, delta, wing)

            async def hedge_check() -> None:
                await broker.quote(legs)
                await broker.market_context()
                hedge = HedgeRules()  # the ladder's rung window, as the job asks for it
                await broker.option_chain(
                    "VIX", "VIX", hedge.min_dte, hedge.max_dte, rights=(Right.CALL,)
                )

            _, h_peak, _h_total, _h_seconds = await measure(tws, "hedge_check", hedge_check)
        finally:
            await broker.disconnect()
    ok = e_peak <= ENTRY_LINES and e_seconds <= ENTRY_SECONDS and h_peak <= HEDGE_LINES
    print("within targets" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=IBSettings().market_data_lines_budget)
    parser.add_argument("--others", type=int, default=0, help="lines held by other clients")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.budget, args.others)))
