"""The Interactive Brokers broker (TWS / IB Gateway through ib_async).

Only modules in this package may import ib_async. :class:`IBBroker` is the one
public facade (see :mod:`daemon.brokers.ib.adapter` for its parts), configured
by :class:`IBSettings`; ``docs/interactive-brokers.md`` covers running IB
Gateway.
"""

from daemon.brokers.ib.adapter import (
    IBBroker,
    IBSettings,
    OpenOrderInfo,
    PositionDifference,
    Reconciliation,
)
from daemon.brokers.ib.errors import (
    ERROR_POLICIES,
    ClientIdInUseError,
    DelayedDataRefusedError,
    ErrorAction,
    ErrorPolicy,
    RequestTimeoutError,
    classify,
)
from daemon.brokers.ib.orders import OrderWalkPolicy
from daemon.brokers.ib.safety import UnsafeAccountError, check_accounts, is_paper

__all__ = [
    "ERROR_POLICIES",
    "ClientIdInUseError",
    "DelayedDataRefusedError",
    "ErrorAction",
    "ErrorPolicy",
    "IBBroker",
    "IBSettings",
    "OpenOrderInfo",
    "OrderWalkPolicy",
    "PositionDifference",
    "Reconciliation",
    "RequestTimeoutError",
    "UnsafeAccountError",
    "check_accounts",
    "classify",
    "is_paper",
]
