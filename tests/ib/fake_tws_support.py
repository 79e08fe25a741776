"""Shared helpers of the fake TWS tests (run against the real ib_async client)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
from ib_async import IB, Bag, ComboLeg

from tests.fake_tws import FakeTWS, Scenario

TEST_TIMEOUT = 15.0
HOST = "127.0.0.1"


@pytest.fixture(autouse=True)
def no_decoding_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if ib_async could not decode a message or match it to a request.

    ib_async's Decoder catches and logs exceptions, so a wrong field layout would
    otherwise go unnoticed.
    """
    caplog.set_level(logging.INFO, logger="ib_async")
    yield
    problems = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("ib_async")
        and r.levelno >= logging.ERROR
        and (
            r.name == "ib_async.Decoder"
            or "Unknown reqId" in r.getMessage()
            or "No order found" in r.getMessage()
            or "Error for " in r.getMessage()
        )
    ]
    assert not problems, problems


@asynccontextmanager
async def running(
    scenario: Scenario | None = None, client_id: int = 1
) -> AsyncIterator[tuple[FakeTWS, IB]]:
    """A started fake TWS and an ib_async IB connected to it; torn down afterwards."""
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(scenario or Scenario()) as tws:
        ib = IB()
        try:
            await ib.connectAsync(HOST, tws.port, clientId=client_id, timeout=5)
            yield tws, ib
        finally:
            ib.disconnect()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds (TimeoutError otherwise)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def spxw_expiry(scenario: Scenario, index: int = 20) -> str:
    """An SPXW expiry about a month out."""
    return scenario.chain("SPXW").expirations[index]


def iron_condor(scenario: Scenario, expiry: str) -> Bag:
    """A long iron condor BAG (selling it = short iron condor), legs by conId."""
    chain = scenario.chain("SPXW")
    legs = [
        ComboLeg(conId=chain.con_id(expiry, 4900.0, "P"), ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=chain.con_id(expiry, 4800.0, "P"), ratio=1, action="SELL", exchange="SMART"),
        ComboLeg(conId=chain.con_id(expiry, 5100.0, "C"), ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=chain.con_id(expiry, 5200.0, "C"), ratio=1, action="SELL", exchange="SMART"),
    ]
    return Bag(symbol="SPX", exchange="SMART", currency="USD", comboLegs=legs)
