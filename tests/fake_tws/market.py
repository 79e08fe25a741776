"""Contracts and market data of the fake TWS: contract details, option chains,
streaming/snapshot quotes with model greeks, and daily historical bars."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from daemon.clock import NEW_YORK

from . import protocol as p
from .faults import HMDS_NO_DATA, MAX_TICKERS, NO_SECURITY
from .pricing import Quote
from .scenario import Scenario
from .session import Session, Subscription
from .wire import ContractSpec, In

if TYPE_CHECKING:
    from .server import FakeTWS

Handler = Callable[[Session, list[str]], None]


class Market:
    """Serves contract and market-data requests for a :class:`~.server.FakeTWS`."""

    def __init__(self, server: FakeTWS) -> None:
        """Attach to ``server`` (its scenario and sessions)."""
        self.server = server
        #: While False (after error 1100), no ticks are streamed.
        self.link_up = True
        #: Most streaming lines open at once (all clients), and lines ever opened.
        self.lines_peak = 0
        self.lines_total = 0
        #: When set, a streaming request past this many open lines (all
        #: clients) is refused with error 101, as IB does past the allowance.
        self.line_limit: int | None = None

    @property
    def scenario(self) -> Scenario:
        """The server's scenario."""
        return self.server.scenario

    def handlers(self) -> dict[int, Handler]:
        """Message id -> handler for the requests this component serves."""
        return {
            In.REQ_CONTRACT_DETAILS: self._on_contract_details,
            In.REQ_SEC_DEF_OPT_PARAMS: self._on_sec_def_opt_params,
            In.REQ_MKT_DATA: self._on_req_mkt_data,
            In.CANCEL_MKT_DATA: self._on_cancel_mkt_data,
            In.REQ_HISTORICAL_DATA: self._on_historical_data,
            In.CANCEL_HISTORICAL_DATA: lambda session, fields: None,
        }

    def resolve(self, query: ContractSpec) -> ContractSpec | None:
        """The one contract matching ``query``, else None."""
        found = self.scenario.find_contracts(query, limit=2)
        return found[0] if len(found) == 1 else None

    # ------------------------------------------------------------------ contracts

    def _on_contract_details(self, session: Session, fields: list[str]) -> None:
        req_id, query, include_expired = p.parse_contract_details(fields)
        found = self.scenario.find_contracts(query, include_expired=include_expired)
        if not found:
            session.send(p.error(req_id, *NO_SECURITY))
            return
        for spec in found:
            if query.exchange and query.exchange in spec.valid_exchanges.split(","):
                spec = dataclasses.replace(spec, exchange=query.exchange)
            session.send(p.contract_details(req_id, spec))
        session.send(p.contract_details_end(req_id))

    def _on_sec_def_opt_params(self, session: Session, fields: list[str]) -> None:
        req_id, symbol, fut_fop_exchange = int(fields[1]), fields[2], fields[3]
        con_id = int(fields[5] or 0)
        for chain in self.scenario.chains:
            if fut_fop_exchange or chain.symbol != symbol.upper():
                continue
            if con_id and con_id != chain.underlying_con_id:
                continue
            for exchange in chain.exchanges:
                session.send(
                    p.sec_def_opt_params(
                        req_id,
                        exchange,
                        chain.underlying_con_id,
                        chain.trading_class,
                        chain.multiplier,
                        chain.expirations,
                        chain.strikes,
                    )
                )
        session.send(p.sec_def_opt_params_end(req_id))

    # ---------------------------------------------------------------- market data

    def _on_req_mkt_data(self, session: Session, fields: list[str]) -> None:
        req = p.parse_mkt_data(fields)
        if req.contract.sec_type == "BAG":
            if not req.combo_legs or any(
                self.scenario.contract_by_id(leg.con_id) is None for leg in req.combo_legs
            ):
                session.send(p.error(req.req_id, *NO_SECURITY))
                return
            contract = req.contract
            con_ids = {leg.con_id for leg in req.combo_legs}
        else:
            resolved = self.resolve(req.contract)
            if resolved is None:
                session.send(p.error(req.req_id, *NO_SECURITY))
                return
            contract, con_ids = resolved, {resolved.con_id}
        streaming = not (req.snapshot or req.regulatory_snapshot)
        if streaming and self.line_limit is not None and self.open_lines() >= self.line_limit:
            session.send(p.error(req.req_id, *MAX_TICKERS))
            return
        sub = Subscription(req, contract, con_ids)
        session.send(p.market_data_type(req.req_id, self.served_type(session)))
        session.send(p.tick_req_params(req.req_id, contract.min_tick or 0.05, "9c0001", 3))
        if self.link_up:
            self.send_ticks(session, sub)
        if req.snapshot or req.regulatory_snapshot:
            session.send(p.tick_snapshot_end(req.req_id))
        else:
            session.subscriptions[req.req_id] = sub
            self.lines_total += 1
            self.lines_peak = max(self.lines_peak, self.open_lines())

    def open_lines(self) -> int:
        """Streaming lines open now, over every connected client."""
        return sum(len(s.subscriptions) for s in self.server.live_sessions())

    def served_type(self, session: Session) -> int:
        """The market data type ``session`` receives (1 live .. 4 delayed-frozen)."""
        if self.scenario.served_market_data_type is not None:
            return self.scenario.served_market_data_type
        return session.market_data_type or self.scenario.market_data_type

    def _on_cancel_mkt_data(self, session: Session, fields: list[str]) -> None:
        session.subscriptions.pop(int(fields[2]), None)

    def _quote(self, sub: Subscription) -> Quote | None:
        if sub.contract.sec_type == "BAG":
            return self.scenario.combo_quote(sub.req.combo_legs)
        return self.scenario.quote_for(sub.contract)

    def send_ticks(self, session: Session, sub: Subscription) -> None:
        """Send the current quote (and model greeks) of one subscription."""
        quote = self._quote(sub)
        if quote is None:
            return
        delayed = self.served_type(session) in (3, 4)
        t = p.TickType
        req_id = sub.req.req_id
        if quote.bid is not None:
            tick = t.DELAYED_BID if delayed else t.BID
            session.send(p.tick_price(req_id, tick, quote.bid, quote.bid_size))
        elif quote.ask is not None:  # a one-sided market: IB sends bid -1 with size 0
            tick = t.DELAYED_BID if delayed else t.BID
            session.send(p.tick_price(req_id, tick, -1.0, 0.0))
        if quote.ask is not None:
            tick = t.DELAYED_ASK if delayed else t.ASK
            session.send(p.tick_price(req_id, tick, quote.ask, quote.ask_size))
        if quote.last is not None:
            tick = t.DELAYED_LAST if delayed else t.LAST
            session.send(p.tick_price(req_id, tick, quote.last, quote.last_size))
        if quote.close is not None:
            tick = t.DELAYED_CLOSE if delayed else t.CLOSE
            session.send(p.tick_price(req_id, tick, quote.close, 0.0))
        g = quote.greeks
        if g is None:
            return
        computations = [
            (t.DELAYED_BID_OPTION if delayed else t.BID_OPTION, quote.bid),
            (t.DELAYED_ASK_OPTION if delayed else t.ASK_OPTION, quote.ask),
            (t.DELAYED_MODEL_OPTION if delayed else t.MODEL_OPTION, g.opt_price),
        ]
        for tick_type, price in computations:
            if price is None:
                continue
            session.send(
                p.tick_option_computation(
                    req_id,
                    tick_type,
                    g.implied_vol,
                    g.delta,
                    price,
                    g.pv_dividend,
                    g.gamma,
                    g.vega,
                    g.theta,
                    g.und_price,
                )
            )

    def publish(self, wants: Callable[[Subscription], bool]) -> None:
        """Stream current quotes to every live subscription ``wants`` (unless the link is down)."""
        if not self.link_up:
            return
        for session in self.server.live_sessions():
            for sub in list(session.subscriptions.values()):
                if wants(sub):
                    self.send_ticks(session, sub)

    def drop_subscriptions(self) -> None:
        """Forget every streaming line (what error 1101, data lost, means)."""
        for session in self.server.live_sessions():
            session.subscriptions.clear()

    # ----------------------------------------------------------------- history

    def _on_historical_data(self, session: Session, fields: list[str]) -> None:
        req = p.parse_historical_data(fields)
        bar_size = " ".join(req.bar_size.lower().split())
        if bar_size not in ("1 day", "1 days"):
            message = f"{HMDS_NO_DATA[1]}: the fake serves only 1 day bars"
            session.send(p.error(req.req_id, HMDS_NO_DATA[0], message))
            return
        contract = self.resolve(req.contract)
        if contract is None:
            session.send(p.error(req.req_id, *NO_SECURITY))
            return
        now = self.scenario.clock().astimezone(NEW_YORK)
        end = _end_date(req.end) or now.date()
        bars = self.scenario.bars_for(contract, end, _duration_days(req.duration))
        if contract.sec_type not in ("IND", "FUT") or not bars:
            session.send(p.error(req.req_id, *HMDS_NO_DATA))
            return
        rows = [self._bar_row(contract.symbol, day, close) for day, close in bars]
        start = f"{end - timedelta(days=_duration_days(req.duration)):%Y%m%d} 00:00:00"
        session.send(p.historical_data(req.req_id, start, f"{end:%Y%m%d} 23:59:59", rows))

    def _bar_row(
        self, symbol: str, day: date, close: float
    ) -> tuple[str, float, float, float, float]:
        """(yyyymmdd, open, high, low, close) of one daily bar; open from ``daily_opens``."""
        open_ = self.scenario.daily_opens.get(symbol, {}).get(day, close)
        return f"{day:%Y%m%d}", open_, max(open_, close), min(open_, close), close


def _end_date(text: str) -> date | None:
    """The New York date of a reqHistoricalData endDateTime ("" = now).

    ``yyyymmdd-hh:mm:ss`` is UTC; ``yyyymmdd hh:mm:ss zone`` is in that zone
    (ib_async sends an aware datetime as ``... UTC``); without a zone, New York.
    """
    text = text.strip()
    if not text:
        return None
    if len(text) >= 17 and text[8] == "-":
        moment = datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        return moment.astimezone(NEW_YORK).date()
    parts = text.split()
    if len(parts) >= 3:
        stamp = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S")
        return stamp.replace(tzinfo=ZoneInfo(parts[2])).astimezone(NEW_YORK).date()
    return datetime.strptime(text[:8], "%Y%m%d").date()


def _duration_days(text: str) -> int:
    """Calendar days of an IB duration string: "30 D", "2 W", "1 M", "1 Y" (seconds: 1)."""
    count_text, _, unit = text.strip().partition(" ")
    count = int(count_text or 1)
    return count * {"S": 0, "D": 1, "W": 7, "M": 31, "Y": 366}.get(unit.strip().upper(), 1) or 1
