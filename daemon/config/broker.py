"""``[broker]``: how to reach TWS / IB Gateway."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from daemon.config.base import DELAYED_MARKET_DATA_TYPES, Section
from daemon.order_policy import OrderPolicy

_ORDER_POLICY = OrderPolicy()


class BrokerConfig(Section):
    """``[broker]``: how to reach TWS / IB Gateway.

    ``trading_mode`` defaults to ``"paper"``; ``"live"`` requires an explicit
    live ``account`` (paper accounts start with ``DU``) and can only come from
    the config file or ``alvh run --live``, never from the environment alone
    (see :func:`load_config`). ``market_data_type`` is IB's code: 1 live,
    2 frozen, 3 delayed, 4 delayed-frozen; the default 3 lets a paper account
    without market-data subscriptions run, and live trading refuses 3 and 4.
    ``open_order_policy`` is what start-up reconciliation does with a working
    order at the gateway whose ``orderRef`` belongs to this journal:
    ``"adopt"`` (default) keeps it working and follows it to its end,
    ``"cancel"`` cancels it (fills that already happened are still journaled).
    ``connect_timeout_s`` is in seconds. The remaining keys tune the
    Interactive Brokers adapter (:class:`daemon.brokers.ib.adapter.IBSettings`
    documents each): market-data line budget and pacing, the strike window in
    expected moves, limit-price walking (``walk_step`` index points every
    ``walk_interval_s`` seconds, cancelled after ``walk_timeout_s``), and
    reconnect behaviour. ``close_concession``, ``adjust_concession`` and
    ``natural_margin`` (index points) bound how far a CLOSE or an ADJUST
    order may concede, in replay, dry run and live alike
    (:class:`daemon.order_policy.OrderPolicy`): ``"natural"`` lets it go to the
    natural price of its legs (buying at the ask, selling at the bid) plus the
    margin, ``"band"`` keeps the opening orders' band (10% of the limit, at
    least 0.10). Cross-checks: ``market_data_lines_budget <=
    market_data_lines``, ``walk_timeout_s >= walk_interval_s``,
    ``reconnect_max_s >= reconnect_initial_s``; ``host`` is a name or
    address (at most 253 characters, no spaces or control characters).
    """

    trading_mode: Literal["paper", "live"] = "paper"
    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int = Field(default=4002, ge=1, le=65535)
    client_id: int = Field(default=17, ge=0, le=2_147_483_647)
    account: str | None = Field(default=None, max_length=64)
    market_data_type: int = Field(default=3, ge=1, le=4)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    request_timeout_s: float = Field(default=15.0, gt=0, le=120)
    market_data_lines: int = Field(default=100, ge=1, le=10_000)
    market_data_lines_budget: int = Field(default=80, ge=1, le=10_000)
    max_msgs_per_s: int = Field(default=45, ge=1, le=50)
    strike_window_sd: float = Field(default=2.0, gt=0, le=5)
    quote_timeout_s: float = Field(default=5.0, gt=0, le=60)
    walk_step: float = Field(default=0.05, gt=0, le=5)
    walk_interval_s: float = Field(default=10.0, gt=0, le=300)
    walk_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    combo_tick: float = Field(default=0.05, gt=0, le=1)
    commission_wait_s: float = Field(default=5.0, gt=0, le=60)
    connect_attempts: int = Field(default=3, ge=1, le=100)
    reconnect_initial_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=600)
    link_grace_s: float = Field(default=30.0, gt=0, le=600)
    order_disconnect_grace_s: float = Field(default=300.0, gt=0, le=3600)
    vix_futures_count: int = Field(default=8, ge=1, le=12)
    vix_option_iv: float = Field(default=1.0, gt=0, le=5)
    open_order_policy: Literal["adopt", "cancel"] = "adopt"
    close_concession: Literal["band", "natural"] = _ORDER_POLICY.close_concession
    adjust_concession: Literal["band", "natural"] = _ORDER_POLICY.adjust_concession
    natural_margin: float = Field(default=_ORDER_POLICY.natural_margin, ge=0, le=5)

    def order_policy(self) -> OrderPolicy:
        """The executor's concession bounds from these keys."""
        return OrderPolicy(
            close_concession=self.close_concession,
            adjust_concession=self.adjust_concession,
            natural_margin=self.natural_margin,
        )

    @field_validator("market_data_lines_budget")
    @classmethod
    def _budget_within_lines(cls, value: int, info: ValidationInfo) -> int:
        lines = info.data.get("market_data_lines")
        if lines is not None and value > lines:
            raise ValueError(f"must not exceed broker.market_data_lines ({lines})")
        return value

    @field_validator("walk_timeout_s")
    @classmethod
    def _timeout_after_interval(cls, value: float, info: ValidationInfo) -> float:
        interval = info.data.get("walk_interval_s")
        if interval is not None and value < interval:
            raise ValueError(f"must not be below broker.walk_interval_s ({interval:g})")
        return value

    @field_validator("reconnect_max_s")
    @classmethod
    def _max_after_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("reconnect_initial_s")
        if initial is not None and value < initial:
            raise ValueError(f"must not be below broker.reconnect_initial_s ({initial:g})")
        return value

    @field_validator("host")
    @classmethod
    def _host_name(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError(
                f"must be a host name or IP address without spaces (got {value!r:.60})"
            )
        return value

    @field_validator("account")
    @classmethod
    def _live_needs_live_account(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            value = value.strip() or None
        if info.data.get("trading_mode") == "live":
            if value is None:
                raise ValueError("required when trading_mode is 'live'")
            if value.upper().startswith("DU"):
                raise ValueError(
                    f"'{value}' is a paper account (DU...); use a live account or "
                    "trading_mode = 'paper'"
                )
        return value

    @field_validator("market_data_type")
    @classmethod
    def _live_needs_live_data(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("trading_mode") == "live" and value in DELAYED_MARKET_DATA_TYPES:
            raise ValueError(
                f"delayed data ({value}) is refused when trading_mode is 'live'; "
                "use 1 (live) or 2 (frozen)"
            )
        return value
