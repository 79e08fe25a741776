"""The simulated broker's model quotes: one vectorised pass over states, chain look-ups.

A *state* is a market context with the quote cache of that context and the
contracts asked in it (:data:`PricingState`). :func:`price_states` prices
what no cache holds for every state at once; :func:`chain_quote` reads a
contract's quote from a chain the broker already handed out in the state.
Quotes are :class:`~strategies.domain.LegQuote`: per share, index points.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from daemon.brokers.base import BrokerError
from strategies.domain import ChainSlice, LegQuote, MarketContext, OptionContract, Right
from strategies.pricing.market_model import ClassRequest, MarketModel

#: One state's quotes by contract (one visible state: quotes cannot change within it).
QuoteCache = dict[OptionContract, LegQuote]
#: ``(ctx, cache, contracts)``: the contracts asked in ``ctx``, priced through ``cache``.
PricingState = tuple[MarketContext, QuoteCache, Sequence[OptionContract]]
#: The chains handed out in a state, by (symbol, class, expiry, right), with their
#: strike -> row index once asked (see :func:`chain_quote`).
Chains = dict[tuple[str, str, date, Right], tuple[ChainSlice, dict[float, int] | None]]


def chain_quote(chains: Chains, contract: OptionContract) -> LegQuote | None:
    """``contract``'s quote from a chain of the current state, if one lists its strike."""
    key = (contract.symbol, contract.trading_class, contract.expiry, contract.right)
    found = chains.get(key)
    if found is None:
        return None
    chain, index = found
    if index is None:
        index = {k: i for i, k in enumerate(chain.strikes.tolist())}
        chains[key] = (chain, index)
    i = index.get(contract.strike)
    if i is None:
        return None
    return LegQuote(
        contract,
        float(chain.bid[i]),
        float(chain.ask[i]),
        float(chain.iv[i]),
        float(chain.delta[i]),
        float(chain.gamma[i]),
        float(chain.vega[i]),
        float(chain.theta[i]),
    )


def price_states(model: MarketModel, states: Sequence[PricingState]) -> list[list[LegQuote]]:
    """Model quotes of each ``(ctx, cache, contracts)`` state's contracts, one list per state.

    What a state's cache holds is reused; the rest is priced and cached,
    in one vectorised pass for every state and option class at once
    (:meth:`MarketModel.leg_quotes_flat`: each option's numbers are those
    of pricing it alone).

    Raises:
        BrokerError: a contract expired before a state's session.
    """
    found: list[list[LegQuote | None]] = []
    requests: list[ClassRequest] = []
    members: list[tuple[int, list[int]]] = []
    for s, (ctx, cache, contracts) in enumerate(states):
        quotes: list[LegQuote | None] = [cache.get(c) for c in contracts]
        found.append(quotes)
        if None not in quotes:
            continue
        groups: dict[tuple[str, str], list[int]] = {}
        for i, contract in enumerate(contracts):
            if quotes[i] is not None:
                continue
            if contract.expiry < ctx.session:
                raise BrokerError(f"{contract.local_symbol} expired before {ctx.session}")
            groups.setdefault((contract.symbol, contract.trading_class), []).append(i)
        for (symbol, trading_class), ix in groups.items():
            requests.append(
                (
                    symbol,
                    trading_class,
                    ctx,
                    [contracts[i].expiry for i in ix],
                    [contracts[i].strike for i in ix],
                    [contracts[i].right is Right.CALL for i in ix],
                )
            )
            members.append((s, ix))
    if requests:
        legs = model.leg_quotes_flat(requests)
        # tolist(): the same Python floats as float(array[j]), one conversion per array
        bid, ask, iv = legs.bid.tolist(), legs.ask.tolist(), legs.iv.tolist()
        delta, gamma, vega, theta = (
            legs.delta.tolist(),
            legs.gamma.tolist(),
            legs.vega.tolist(),
            legs.theta.tolist(),
        )
        j = 0
        for s, ix in members:
            _, cache, contracts = states[s]
            quotes = found[s]
            for i in ix:
                contract = contracts[i]
                quote = LegQuote(
                    contract, bid[j], ask[j], iv[j], delta[j], gamma[j], vega[j], theta[j]
                )
                quotes[i] = cache[contract] = quote
                j += 1
    return [[q for q in quotes if q is not None] for quotes in found]
