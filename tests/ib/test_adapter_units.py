"""Pure parts of the IB adapter: price walking, sign translation, account guard, error table."""

from __future__ import annotations

from datetime import date

import pytest

from daemon.brokers.base import ComboOrder
from daemon.brokers.ib import (
    ERROR_POLICIES,
    ErrorAction,
    IBSettings,
    OrderWalkPolicy,
    UnsafeAccountError,
    check_accounts,
    classify,
)
from daemon.brokers.ib.contracts import strike_window
from daemon.brokers.ib.orders import ib_walk, order_spec, round_favourable, walk_prices
from daemon.config import BrokerConfig
from strategies.domain import Leg, OptionContract, Right

PUT = OptionContract("SPX", "SPXW", date(2026, 1, 16), 4800.0, Right.PUT)
CALL = OptionContract("SPX", "SPXW", date(2026, 1, 16), 5200.0, Right.CALL)
VIX_CALL = OptionContract("VIX", "VIX", date(2026, 2, 18), 20.0, Right.CALL)


def test_walk_goes_from_limit_to_worst_and_never_beyond() -> None:
    assert walk_prices(-2.35, -2.20, 0.05) == [-2.35, -2.30, -2.25, -2.20]
    assert walk_prices(-2.35, -2.22, 0.05) == [-2.35, -2.30, -2.25, -2.22]
    assert walk_prices(1.20, None, 0.05) == [1.20]
    assert walk_prices(1.20, 1.20, 0.05) == [1.20]
    assert walk_prices(1.20, 1.10, 0.05) == [1.10]  # worst better than start: stay at worst


def test_bag_translation_keeps_our_signed_net_price() -> None:
    order = ComboOrder("x", (Leg(PUT, -1), Leg(CALL, -1)), 3, -2.37, -2.23)
    spec = order_spec(order)
    assert (spec.action, spec.quantity, spec.is_bag) == ("BUY", 3, True)
    walk = ib_walk(order, spec, 0.05, 0.05)
    # BUY rounds down (toward our side), so the last price is not past -2.23
    assert walk == [-2.40, -2.35, -2.30, -2.25]
    assert spec.net_price(-2.25) == -2.25


def test_single_leg_translation_uses_ib_side_and_option_tick() -> None:
    buy = order_spec(ComboOrder("b", (Leg(VIX_CALL, 1),), 5, 3.07, 3.40))
    assert (buy.action, buy.quantity, buy.is_bag) == ("BUY", 5, False)
    assert ib_walk(ComboOrder("b", (Leg(VIX_CALL, 1),), 5, 3.07, 3.40), buy, 0.10, 0.05) == [
        3.0,
        3.1,
        3.2,
        3.3,
        3.4,
    ]
    sell_order = ComboOrder("s", (Leg(VIX_CALL, -1),), 2, -1.23, -1.10)
    sell = order_spec(sell_order)
    assert (sell.action, sell.quantity) == ("SELL", 2)
    # selling: IB price is -net, rounded up (toward our side)
    assert ib_walk(sell_order, sell, 0.05, 0.05) == [1.25, 1.20, 1.15, 1.10]
    assert sell.net_price(1.15) == -1.15
    assert round_favourable(1.23, 0.05, "SELL") == 1.25
    assert round_favourable(1.23, 0.05, "BUY") == 1.20


def test_bad_orders_are_refused() -> None:
    with pytest.raises(ValueError, match="no legs"):
        order_spec(ComboOrder("x", (), 1, 1.0))
    with pytest.raises(ValueError, match="quantity"):
        order_spec(ComboOrder("x", (Leg(PUT, 1),), 0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        OrderWalkPolicy(step=0.0)


@pytest.mark.parametrize(
    ("managed", "mode", "account", "expected"),
    [
        (["DU111"], "paper", None, "DU111"),
        (["DU111", "DU222"], "paper", "DU222", "DU222"),
        (["U999"], "live", "U999", "U999"),
        (["U999", "DU111"], "live", "U999", "U999"),
    ],
)
def test_account_guard_allows(
    managed: list[str], mode: str, account: str | None, expected: str
) -> None:
    assert check_accounts(managed, mode, account) == expected


@pytest.mark.parametrize(
    ("managed", "mode", "account", "message"),
    [
        (["U999"], "paper", None, "live account"),
        (["DU111", "U999"], "paper", "DU111", "live account"),
        (["U999"], "live", None, "names no live account"),
        (["U999"], "live", "U123", "not managed"),
        (["DU111", "DU222"], "paper", None, "several accounts"),
        (["DU111"], "paper", "DU999", "not managed"),
        ([], "paper", None, "no managed accounts"),
    ],
)
def test_account_guard_refuses(
    managed: list[str], mode: str, account: str | None, message: str
) -> None:
    with pytest.raises(UnsafeAccountError, match=message):
        check_accounts(managed, mode, account)


def test_error_table_covers_the_handled_codes() -> None:
    for code in (1100, 1101, 1102, 326, 2104, 2106, 2158, 10090, 354, 10197, 201, 202, 200, 162):
        assert code in ERROR_POLICIES and ERROR_POLICIES[code].meaning
    assert classify(1100).action is ErrorAction.CONNECTIVITY_LOST
    assert classify(1101).action is ErrorAction.RESTORED_DATA_LOST
    assert classify(326).action is ErrorAction.CLIENT_ID_IN_USE
    assert "ClientIdInUseError" in classify(326).meaning  # no move to another client id
    assert classify(162).action is ErrorAction.REQUEST_FAILED
    assert classify(10167).action is ErrorAction.DELAYED_MARKET_DATA
    assert classify(10197).action is ErrorAction.MARKET_DATA_UNAVAILABLE
    assert classify(201).action is ErrorAction.ORDER_REJECTED
    assert classify(354).action is ErrorAction.MARKET_DATA_UNAVAILABLE
    assert classify(10090).severity.value == "warning"
    assert {classify(c).severity.value for c in (2104, 2106, 2158)} == {"info"}
    assert classify(2199).severity.value == "info"
    assert classify(99999).action is ErrorAction.LOG


def test_settings_from_broker_config() -> None:
    cfg = BrokerConfig(port=4001, client_id=3, market_data_type=1)
    settings = IBSettings.from_config(cfg, market_data_lines=50)
    assert (settings.host, settings.port, settings.client_id) == ("127.0.0.1", 4001, 3)
    assert (settings.market_data_type, settings.market_data_lines) == (1, 50)
    assert settings.trading_mode == "paper" and settings.walk == OrderWalkPolicy()
    assert not settings.live and not hasattr(settings, "client_id_attempts")
    live = IBSettings.from_config(
        BrokerConfig(trading_mode="live", account="U123", market_data_type=1)
    )
    assert live.live and live.account == "U123"
    with pytest.raises(ValueError, match="max_msgs_per_s"):
        IBSettings(max_msgs_per_s=60)


def test_strike_window_takes_out_of_the_money_strikes_and_one_in_the_money() -> None:
    strikes = [float(k) for k in range(4500, 5505, 5)]
    puts = strike_window(strikes, 5002.0, 100.0, Right.PUT)
    calls = strike_window(strikes, 5002.0, 100.0, Right.CALL)
    assert puts[0] == 4905.0 and puts[-1] == 5005.0
    assert calls[0] == 5000.0 and calls[-1] == 5100.0
    assert strike_window([], 5000.0, 100.0, Right.PUT) == []
