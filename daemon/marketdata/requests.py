"""Answering a rule's :class:`~strategies.adjustments.MarketRequest` from the broker.

The pure rules ask for the market data they need (a chain with the market
context, quotes of named contracts) instead of the engine guessing it, so a
chain is fetched only when a rule needs one. A request that fails is handed
back to the rule as an error text; the rule then holds and names it.
"""

from __future__ import annotations

from dataclasses import replace

from daemon.brokers.base import Broker, BrokerError, FatalBrokerError
from strategies.adjustments import AdjustData, MarketRequest


async def gather(broker: Broker, request: MarketRequest, data: AdjustData) -> AdjustData:
    """``data`` plus what ``request`` asks for, fetched from ``broker``.

    Raises:
        FatalBrokerError: no retry can cure the broker's failure (the daemon stops).
    """
    if request.chain is not None:
        spec = request.chain
        try:
            ctx = await broker.market_context()
            chain = await broker.option_chain(
                spec.symbol, spec.trading_class, spec.min_dte, spec.max_dte
            )
        except BrokerError as exc:
            if isinstance(exc, FatalBrokerError):
                raise
            data = replace(data, chain=(), chain_error=str(exc)[:300])
        else:
            data = replace(data, ctx=ctx, chain=tuple(chain))
    if request.contracts:
        try:
            got = await broker.quote(list(request.contracts))
        except BrokerError as exc:
            if isinstance(exc, FatalBrokerError):
                raise
            data = replace(data, quote_error=str(exc)[:300])
        else:
            quotes = {**data.quotes, **{q.contract: q for q in got}}
            missing = [c.local_symbol for c in request.contracts if c not in quotes]
            data = replace(
                data,
                quotes=quotes,
                quote_error=f"no quote for {', '.join(missing)}" if missing else None,
            )
    return data
