"""The Interactive Brokers broker (TWS / IB Gateway through ib_async).

Only modules in this package may import ib_async. See
:mod:`daemon.brokers.ib.adapter` for how ``alvh run`` uses :class:`IBBroker`,
and ``docs/interactive-brokers.md`` for running IB Gateway.
"""

from daemon.brokers.ib.adapter import (
    IBBroker,
    IBSettings,
    OpenOrderInfo,
    PositionDifference,
    Reconciliation,
)
from daemon.brokers.ib.errors import ERROR_POLICIES, ErrorAction, ErrorPolicy, classify
from daemon.brokers.ib.orders import OrderWalkPolicy
from daemon.brokers.ib.safety import UnsafeAccountError, check_accounts, is_paper

__all__ = [
    "ERROR_POLICIES",
    "ErrorAction",
    "ErrorPolicy",
    "IBBroker",
    "IBSettings",
    "OpenOrderInfo",
    "OrderWalkPolicy",
    "PositionDifference",
    "Reconciliation",
    "UnsafeAccountError",
    "check_accounts",
    "classify",
    "is_paper",
]
