"""Encoders of the messages the fake TWS sends (server version 178).

Each returns the field list of one server message (frame it with
:func:`~.wire.encode_fields`) in the exact field order that ib_async 2.1.0's
``Decoder`` expects at :data:`~.wire.SERVER_VERSION`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .wire import (
    UNSET_DOUBLE,
    ComboLegSpec,
    ContractSpec,
    ExecutionRecord,
    OrderRequest,
    OrderStateSpec,
    Out,
    tws_time,
)


def managed_accounts(accounts: Sequence[str]) -> list[object]:
    """managedAccounts (15): version 1, comma-separated accounts."""
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> list[object]:
    """nextValidId (9): version 1, id."""
    return [Out.NEXT_VALID_ID, 1, order_id]


def error(req_id: int, code: int, message: str, advanced_reject_json: str = "") -> list[object]:
    """errMsg (4): version 2, reqId, code, message, advancedOrderRejectJson (>= 166)."""
    return [Out.ERR_MSG, 2, req_id, code, message, advanced_reject_json]


def current_time(epoch_seconds: int) -> list[object]:
    """currentTime (49): version 1, seconds since the epoch."""
    return [Out.CURRENT_TIME, 1, epoch_seconds]


def contract_details(req_id: int, c: ContractSpec) -> list[object]:
    """contractData (10) at >= 164: no version field; min/size increments at the end."""
    last_times = c.last_trade_date
    if c.last_trade_date and c.last_trade_time:
        last_times = f"{c.last_trade_date} {c.last_trade_time} {c.time_zone_id}"
    return [
        Out.CONTRACT_DATA,
        req_id,
        c.symbol,
        c.sec_type,
        last_times,
        c.strike,
        c.right,
        c.exchange,
        c.currency,
        c.local_symbol,
        c.market_name or c.trading_class,
        c.trading_class,
        c.con_id,
        c.min_tick,
        c.multiplier,
        c.order_types,
        c.valid_exchanges or c.exchange,
        1,  # priceMagnifier
        c.under_con_id,
        c.long_name,
        c.primary_exchange,
        c.contract_month,
        "",  # industry
        "",  # category
        "",  # subcategory
        c.time_zone_id,
        c.trading_hours,
        c.liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        0,  # numSecIds
        1,  # aggGroup
        c.under_symbol,
        c.under_sec_type,
        c.market_rule_ids,
        c.last_trade_date if c.sec_type in ("OPT", "FUT", "FOP") else "",  # realExpirationDate
        "",  # stockType
        "1",  # minSize
        "1",  # sizeIncrement
        "1",  # suggestedSizeIncrement
    ]


def contract_details_end(req_id: int) -> list[object]:
    """contractDataEnd (52): version 1, reqId."""
    return [Out.CONTRACT_DATA_END, 1, req_id]


def sec_def_opt_params(
    req_id: int,
    exchange: str,
    underlying_con_id: int,
    trading_class: str,
    multiplier: str,
    expirations: Sequence[str],
    strikes: Sequence[float],
) -> list[object]:
    """securityDefinitionOptionParameter (75): no version field."""
    return [
        Out.SECURITY_DEFINITION_OPTION_PARAMETER,
        req_id,
        exchange,
        underlying_con_id,
        trading_class,
        multiplier,
        len(expirations),
        *expirations,
        len(strikes),
        *[float(s) for s in strikes],
    ]


def sec_def_opt_params_end(req_id: int) -> list[object]:
    """securityDefinitionOptionParameterEnd (76): reqId."""
    return [Out.SECURITY_DEFINITION_OPTION_PARAMETER_END, req_id]


def tick_price(
    req_id: int, tick_type: int, price: float, size: float, attrib_mask: int = 0
) -> list[object]:
    """tickPrice (1): version 6, reqId, tickType, price, size, attribute mask."""
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size, attrib_mask]


def tick_size(req_id: int, tick_type: int, size: float) -> list[object]:
    """tickSize (2): version 6, reqId, tickType, size."""
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]


def tick_option_computation(
    req_id: int,
    tick_type: int,
    implied_vol: float,
    delta: float,
    opt_price: float,
    pv_dividend: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
    tick_attrib: int = 1,
) -> list[object]:
    """tickOptionComputation (21) at >= 156: no version, tickAttrib (1 = price based)."""
    return [
        Out.TICK_OPTION_COMPUTATION,
        req_id,
        tick_type,
        tick_attrib,
        implied_vol,
        delta,
        opt_price,
        pv_dividend,
        gamma,
        vega,
        theta,
        und_price,
    ]


def tick_req_params(
    req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int
) -> list[object]:
    """tickReqParams (81): reqId, minTick, bboExchange, snapshotPermissions."""
    return [Out.TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, snapshot_permissions]


def market_data_type(req_id: int, data_type: int) -> list[object]:
    """marketDataType (58): version 1, reqId, type (1 live, 2 frozen, 3 delayed, 4 both)."""
    return [Out.MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_snapshot_end(req_id: int) -> list[object]:
    """tickSnapshotEnd (57): version 1, reqId."""
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> list[object]:
    """orderStatus (3) at >= 131: no version field."""
    return [
        Out.ORDER_STATUS,
        order_id,
        status,
        filled,
        remaining,
        avg_fill_price,
        perm_id,
        parent_id,
        last_fill_price,
        client_id,
        why_held,
        mkt_cap_price,
    ]


def open_order(
    req: OrderRequest, client_id: int, perm_id: int, state: OrderStateSpec
) -> list[object]:
    """openOrder (5) at 178: no version; no faProfile (>= 177); >= 170 peg fields."""
    c = req.contract

    def margin(value: float | None) -> object:
        return UNSET_DOUBLE if value is None else value

    fields: list[object] = [
        Out.OPEN_ORDER,
        req.order_id,
        *c.wire11(),
        req.action,
        req.total_quantity,
        req.order_type,
        req.lmt_price if req.lmt_price is not None else UNSET_DOUBLE,
        req.aux_price if req.aux_price is not None else UNSET_DOUBLE,
        req.tif,
        req.oca_group,
        req.account,
        req.open_close,
        req.origin,
        req.order_ref,
        client_id,
        perm_id,
        req.outside_rth,
        req.hidden,
        0.0,  # discretionaryAmt
        req.good_after_time,
        "",  # deprecated sharesAllocation
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        "",  # modelCode
        req.good_till_date,
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        False,  # blockOrder
        False,  # sweepToFill
        False,  # allOrNone
        "",  # minQty
        3,  # ocaType
        False,  # eTradeOnly
        False,  # firmQuoteOnly
        "",  # nbboPriceCap
        req.parent_id,
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (empty: no delta-neutral block)
        "",  # deltaNeutralAuxPrice
        False,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # basisPoints
        "",  # basisPointsType
        combo_legs_descrip(req.combo_legs),
        len(req.combo_legs),
    ]
    for leg in req.combo_legs:
        fields += [
            leg.con_id,
            leg.ratio,
            leg.action,
            leg.exchange,
            leg.open_close,
            leg.short_sale_slot,
            leg.designated_location,
            leg.exempt_code,
        ]
    fields.append(len(req.order_combo_leg_prices))
    fields += [UNSET_DOUBLE if p is None else p for p in req.order_combo_leg_prices]
    fields.append(len(req.smart_combo_routing_params))
    for tag, value in req.smart_combo_routing_params:
        fields += [tag, value]
    fields += [
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement (unset: no scale block)
        "",  # hedgeType (empty: no hedgeParam)
        False,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        False,  # notHeld
        False,  # deltaNeutralContract present
        req.algo_strategy,
    ]
    if req.algo_strategy:
        fields.append(len(req.algo_params))
        for tag, value in req.algo_params:
            fields += [tag, value]
    fields += [
        False,  # solicited
        req.what_if,
        state.status,
        margin(state.init_margin_before),
        margin(state.maint_margin_before),
        margin(state.equity_with_loan_before),
        margin(state.init_margin_change),
        margin(state.maint_margin_change),
        margin(state.equity_with_loan_change),
        margin(state.init_margin_after),
        margin(state.maint_margin_after),
        margin(state.equity_with_loan_after),
        margin(state.commission),
        UNSET_DOUBLE,  # minCommission
        UNSET_DOUBLE,  # maxCommission
        "USD",  # commissionCurrency
        state.warning_text,
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # numConditions
        "",  # adjustedOrderType
        "",  # triggerPrice
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # adjustedStopPrice
        "",  # adjustedStopLimitPrice
        "",  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        "",  # cashQty
        False,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        False,  # discretionaryUpToLimitPrice
        False,  # usePriceMgmtAlgo
        "",  # duration (>= 159)
        "",  # postToAts (>= 160)
        False,  # autoCancelParent (>= 162)
        "",  # minTradeQty (>= 170)
        "",  # minCompeteSize
        "",  # competeAgainstBestOffset
        "",  # midOffsetAtWhole
        "",  # midOffsetAtHalf
    ]
    return fields


def combo_legs_descrip(legs: Sequence[ComboLegSpec]) -> str:
    """TWS's ``comboLegsDescrip``: ``conId|ratio,conId|ratio`` (negative ratio = SELL)."""
    parts = [f"{leg.con_id}|{leg.ratio if leg.action == 'BUY' else -leg.ratio}" for leg in legs]
    return ",".join(parts)


def open_order_end() -> list[object]:
    """openOrderEnd (53): version 1."""
    return [Out.OPEN_ORDER_END, 1]


def exec_details(req_id: int, e: ExecutionRecord) -> list[object]:
    """execDetails (11) at 178: no version field, pendingPriceRevision at the end."""
    return [
        Out.EXECUTION_DATA,
        req_id,
        e.order_id,
        *e.contract.wire11(),
        e.exec_id,
        tws_time(e.time),
        e.account,
        e.exchange,
        e.side,
        e.shares,
        e.price,
        e.perm_id,
        e.client_id,
        0,  # liquidation
        e.cum_qty,
        e.avg_price,
        e.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        1,  # lastLiquidity (1 = added liquidity)
        False,  # pendingPriceRevision
    ]


def exec_details_end(req_id: int) -> list[object]:
    """execDetailsEnd (55): version 1, reqId."""
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(e: ExecutionRecord) -> list[object]:
    """commissionReport (59): version 1, execId, commission, currency, PnL, yield, date."""
    return [
        Out.COMMISSION_REPORT,
        1,
        e.exec_id,
        e.commission if e.commission is not None else 0.0,
        e.commission_currency,
        UNSET_DOUBLE if e.realized_pnl is None else e.realized_pnl,
        UNSET_DOUBLE,  # yield
        "",  # yieldRedemptionDate
    ]


def position(account: str, c: ContractSpec, quantity: float, avg_cost: float) -> list[object]:
    """position (61): version 3, account, contract (11), position, avgCost."""
    return [Out.POSITION_DATA, 3, account, *c.wire11(), quantity, avg_cost]


def position_end() -> list[object]:
    """positionEnd (62): version 1."""
    return [Out.POSITION_END, 1]


def account_value(key: str, value: str, currency: str, account: str) -> list[object]:
    """updateAccountValue (6): version 2, key, value, currency, account."""
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(
    c: ContractSpec,
    quantity: float,
    market_price: float,
    market_value: float,
    avg_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> list[object]:
    """updatePortfolio (7): version 8, contract with primaryExchange instead of exchange."""
    return [
        Out.PORTFOLIO_VALUE,
        8,
        c.con_id,
        c.symbol,
        c.sec_type,
        c.last_trade_date,
        c.strike,
        c.right,
        c.multiplier,
        c.primary_exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
        quantity,
        market_price,
        market_value,
        avg_cost,
        unrealized_pnl,
        realized_pnl,
        account,
    ]


def account_update_time(hhmm: str) -> list[object]:
    """updateAccountTime (8): version 1, "HH:MM"."""
    return [Out.ACCT_UPDATE_TIME, 1, hhmm]


def account_download_end(account: str) -> list[object]:
    """accountDownloadEnd (54): version 1, account."""
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> list[object]:
    """accountUpdateMulti (73): version 1, reqId, account, modelCode, key, value, currency."""
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, key, value, currency]


def account_update_multi_end(req_id: int) -> list[object]:
    """accountUpdateMultiEnd (74): version 1, reqId."""
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[object]:
    """accountSummary (63): version 1, reqId, account, tag, value, currency."""
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> list[object]:
    """accountSummaryEnd (64): version 1, reqId."""
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]


def completed_orders_end() -> list[object]:
    """completedOrdersEnd (102): no further fields."""
    return [Out.COMPLETED_ORDERS_END]


def historical_data(
    req_id: int, start: str, end: str, bars: Sequence[tuple[str, float, float, float, float]]
) -> list[object]:
    """historicalData (17) at 178: reqId, start, end, count, then per bar
    date, open, high, low, close, volume, wap, barCount (no version field)."""
    fields: list[object] = [Out.HISTORICAL_DATA, req_id, start, end, len(bars)]
    for day, open_, high, low, close in bars:
        fields += [day, open_, high, low, close, -1.0, close, -1]
    return fields
