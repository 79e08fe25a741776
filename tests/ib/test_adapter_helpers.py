"""Shared helpers for the IBBroker tests (no tests here).

Every broker runs against the fake TWS on 127.0.0.1 (ephemeral port) with
short timeouts, inside ``asyncio.timeout`` so nothing can hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from daemon.brokers.base import Fill
from daemon.brokers.ib import IBBroker, IBSettings, OrderWalkPolicy
from daemon.clock import NEW_YORK
from strategies.domain import Leg, OptionContract, Right
from tests.fake_tws import FakeTWS, MuteRule, Scenario

HOST = "127.0.0.1"
TEST_TIMEOUT = 30.0


@dataclass
class RecordingLog:
    """A structlog-like logger that records ``(level, event, fields)``."""

    records: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __getattr__(self, level: str) -> Callable[..., None]:
        if level.startswith("__"):
            raise AttributeError(level)

        def record(event: str, **fields: Any) -> None:
            self.records.append((level, event, fields))

        return record

    def events(self, event: str) -> list[dict[str, Any]]:
        """Fields of every record of ``event``."""
        return [f for _, e, f in self.records if e == event]


def fast_settings(port: int, **overrides: Any) -> IBSettings:
    """Settings for tests: the fake's port and sub-second timeouts."""
    values: dict[str, Any] = {
        "host": HOST,
        "port": port,
        "client_id": 17,
        "connect_timeout_s": 5.0,
        "request_timeout_s": 5.0,
        "quote_timeout_s": 1.0,
        "commission_wait_s": 2.0,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
        "order_disconnect_grace_s": 10.0,
        "walk": OrderWalkPolicy(step=0.05, interval_s=0.1, timeout_s=2.0, cancel_wait_s=2.0),
    }
    values.update(overrides)
    return IBSettings(**values)


def session_clock(day: date, at: time = time(15, 30)) -> Callable[[], datetime]:
    """A clock fixed at ``at`` (default 15:30) New York time on ``day``."""
    moment = datetime.combine(day, at, NEW_YORK)
    return lambda: moment


@asynccontextmanager
async def running_broker(
    scenario: Scenario | None = None,
    connect: bool = True,
    clock: Callable[[], datetime] | None = None,
    setup: Callable[[FakeTWS], None] | None = None,
    **overrides: Any,
) -> AsyncIterator[tuple[FakeTWS, IBBroker, RecordingLog, list[Fill]]]:
    """A fake TWS and a (connected) IBBroker with a recording log and fill list.

    ``clock`` replaces the broker's (default: 15:30 New York on the scenario's
    day); ``setup`` runs on the fake before the broker connects; ``overrides``
    are :class:`IBSettings` fields.
    """
    scenario = scenario or Scenario()
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(scenario) as tws:
        if setup is not None:
            setup(tws)
        log = RecordingLog()
        broker = IBBroker(
            fast_settings(tws.port, **overrides),
            log=log,
            clock=clock or session_clock(scenario.today),
        )
        fills: list[Fill] = []
        broker.add_fill_listener(fills.append)
        try:
            if connect:
                await broker.connect()
            yield tws, broker, log, fills
        finally:
            await broker.disconnect()


def option(
    scenario: Scenario, trading_class: str, index: int, strike: float, right: Right
) -> OptionContract:
    """The domain contract of a scenario option (expiry by list index)."""
    chain = scenario.chain(trading_class)
    expiry = datetime.strptime(chain.expirations[index], "%Y%m%d").date()
    return OptionContract(chain.symbol, trading_class, expiry, strike, right)


def short_iron_condor(scenario: Scenario, index: int = 10) -> tuple[Leg, ...]:
    """A short SPXW iron condor: -4800P +4750P -5200C +5250C."""
    return (
        Leg(option(scenario, "SPXW", index, 4800.0, Right.PUT), -1),
        Leg(option(scenario, "SPXW", index, 4750.0, Right.PUT), 1),
        Leg(option(scenario, "SPXW", index, 5200.0, Right.CALL), -1),
        Leg(option(scenario, "SPXW", index, 5250.0, Right.CALL), 1),
    )


def mute(tws: FakeTWS, msg_id: int, nth: int | None = None, times: int | None = 1) -> None:
    """Leave requests of ``msg_id`` unanswered and unacted on from now on.

    ``nth``: only the nth such message since the fake started; ``times``: how
    many (None: all).
    """
    tws.scenario.mute_rules.append(MuteRule(msg_id, nth=nth, times=times, handle=False))


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds (TimeoutError otherwise)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
