"""What the Interactive Brokers adapter is configured with: :class:`IBSettings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from daemon.brokers.ib.orders import OrderWalkPolicy

#: IB market-data types that are delayed (refused in live mode).
DELAYED_TYPES = frozenset({3, 4})


@dataclass(frozen=True, slots=True)
class IBSettings:
    """Everything the IB adapter is configured with.

    Build it with :meth:`from_config` from ``[broker]``; keys the config does
    not (yet) have keep these defaults. Every duration is in seconds.

    Attributes:
        host, port, client_id: where TWS / IB Gateway listens and our API
            client id (Gateway 4002 paper / 4001 live; TWS 7497 / 7496). The
            id is never changed: if IB says it is in use (326), connect fails.
        trading_mode, account: see :func:`daemon.brokers.ib.safety.check_accounts`.
            ``"live"`` also refuses delayed market data (types 3 and 4).
        market_data_type: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen.
        connect_timeout_s: bound of one connection attempt (handshake, ib_async's
            start-up sync and the first executions request).
        request_timeout_s: bound of one request (contract details, chain
            parameters, open orders, executions, positions, account summary,
            historical bars) and of the wait for a connection before a request.
        market_data_lines: the account's market-data line allowance (IB's
            default is 100).
        market_data_lines_budget: most lines this client opens at once, kept
            below ``market_data_lines`` so lines held by TWS or other clients
            leave headroom (default 80 of 100); the smaller of the two wins.
        line_refused_retries, line_refused_pause_s: on IB error 101 (too many
            lines) the refused lines are retried in batches half as large,
            after ``line_refused_pause_s * attempt`` seconds, at most this many
            times; then the quote fails with a ``BrokerError``.
        strike_targets: trading class -> (absolute short delta, wing width in
            index points). A chain of such a class quotes only the strikes
            around the model strike of that delta (Black-76 at the VIX level)
            and its wing, ``strike_pad_sd`` one-SD moves either side; the
            window widens once, to the ``strike_window_sd`` window, when no
            quoted strike's |delta| is within ``delta_tolerance`` of the
            target or the wing is not covered.
        strike_bands: trading class -> (otm_min, otm_max), a strike band as a
            fraction above the forward (the hedge's VIX call band). A chain of
            such a class quotes only the band plus one band width either
            side, widened once like ``strike_targets`` when it has no usable
            strike in the band.
        strike_pad_sd, delta_tolerance: see ``strike_targets``.
        max_msgs_per_s: API messages per second (IB disconnects above 50).
        strike_window_sd: ``n`` in the strike window ``F * iv * sqrt(T) * n``.
        quote_timeout_s: wait for a batch of quotes to complete.
        vix_option_iv: decimal vol used for the VIX strike window when VVIX
            has no value.
        vix_futures_count: how many VIX futures (front first) market_context reads.
        expiry_targets: trading class -> target DTE (calendar days); when
            given, :meth:`IBBroker.option_chain` quotes only the expiry
            closest to it (ties: shorter), e.g. ``{"SPXW": 14}``.
        walk: limit-price walking (step, interval, timeout, cancel wait).
        commission_wait_s: how long a leg execution waits for its commission
            report before it is delivered with commission 0 (logged; a report
            arriving later is logged as ``ib_commission_late`` and not
            delivered again).
        connect_attempts: attempts of the initial :meth:`IBBroker.connect`.
        reconnect_initial_s, reconnect_max_s: reconnect backoff (doubling
            from initial to max).
        link_grace_s: wait for 1101/1102 after 1100 before reconnecting the
            API session.
        order_disconnect_grace_s: how long past an order's walk timeout
            :meth:`IBBroker.place_order` waits for a lost connection to come
            back before it reports the order ``UNKNOWN``.
        historical_min_interval_s: least time between two historical-data
            requests (IB refuses six requests for one contract within 2 s).
        historical_requests_per_10min: most historical-data requests in any
            600 s (IB's limit is 60; the rest is headroom for TWS and the
            settlement look-ups).
        stop_cancel_wait_s: when the task walking an order is cancelled
            (SIGTERM), how long to wait for IB to confirm the cancel sent for
            it before the cancellation goes on.
    """

    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 17
    trading_mode: str = "paper"
    account: str | None = None
    market_data_type: int = 3
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 15.0
    market_data_lines: int = 100
    market_data_lines_budget: int = 80
    line_refused_retries: int = 3
    line_refused_pause_s: float = 0.25
    strike_targets: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: {"SPXW": (0.16, 50.0), "SPX": (0.16, 50.0)}
    )
    strike_bands: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: {"VIX": (0.08, 0.12)}
    )
    strike_pad_sd: float = 0.15
    delta_tolerance: float = 0.02
    max_msgs_per_s: int = 45
    strike_window_sd: float = 2.0
    quote_timeout_s: float = 5.0
    vix_option_iv: float = 1.0
    vix_futures_count: int = 8
    expiry_targets: Mapping[str, int] = field(default_factory=dict)
    walk: OrderWalkPolicy = field(default_factory=OrderWalkPolicy)
    commission_wait_s: float = 5.0
    connect_attempts: int = 3
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 60.0
    link_grace_s: float = 30.0
    order_disconnect_grace_s: float = 300.0
    stop_cancel_wait_s: float = 2.0
    historical_min_interval_s: float = 0.5
    historical_requests_per_10min: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.market_data_type <= 4:
            raise ValueError("market_data_type must be 1..4")
        if self.market_data_lines < 1:
            raise ValueError("market_data_lines must be >= 1")
        if self.market_data_lines_budget < 1:
            raise ValueError("market_data_lines_budget must be >= 1")
        if self.line_refused_retries < 0 or self.line_refused_pause_s < 0:
            raise ValueError("line_refused_retries and line_refused_pause_s must be >= 0")
        for delta, wing in self.strike_targets.values():
            if not 0 < delta < 0.5 or wing < 0:
                raise ValueError("strike_targets: delta must be in (0, 0.5), wing >= 0")
        for lo, hi in self.strike_bands.values():
            if not 0 <= lo < hi:
                raise ValueError("strike_bands: need 0 <= otm_min < otm_max")
        if self.strike_pad_sd < 0 or not 0 < self.delta_tolerance < 0.5:
            raise ValueError("strike_pad_sd must be >= 0 and delta_tolerance in (0, 0.5)")
        if self.historical_min_interval_s < 0 or not 1 <= self.historical_requests_per_10min <= 60:
            raise ValueError(
                "historical_min_interval_s must be >= 0 and historical_requests_per_10min 1..60"
            )
        if not 1 <= self.max_msgs_per_s <= 50:
            raise ValueError("max_msgs_per_s must be 1..50")

    @property
    def lines_at_once(self) -> int:
        """Most market-data lines opened at once: the budget within the allowance."""
        return min(self.market_data_lines, self.market_data_lines_budget)

    @property
    def live(self) -> bool:
        """Whether this is live trading (``trading_mode == "live"``)."""
        return self.trading_mode == "live"

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> IBSettings:
        """Settings from a ``BrokerConfig`` (any object with those attributes).

        Attributes named like a field are taken as they are (``trading_mode``
        included); walk keys ``walk_step``, ``walk_interval_s``,
        ``walk_timeout_s`` and ``combo_tick`` build :class:`OrderWalkPolicy`;
        ``overrides`` win.

        Raises:
            ValueError: a value out of range (see ``__post_init__``).
        """
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name != "walk" and hasattr(config, name):
                values[name] = getattr(config, name)
        walk = OrderWalkPolicy()
        walk_keys = {
            "walk_step": "step",
            "walk_interval_s": "interval_s",
            "walk_timeout_s": "timeout_s",
            "combo_tick": "combo_tick",
        }
        walk_values = {
            target: getattr(config, key)
            for key, target in walk_keys.items()
            if hasattr(config, key)
        }
        if walk_values:
            walk = replace(walk, **walk_values)
        values["walk"] = walk
        values.update(overrides)
        return cls(**values)
