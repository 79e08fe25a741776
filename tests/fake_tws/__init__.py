"""A fake TWS / IB Gateway speaking the real TWS API socket protocol, for tests.

See :mod:`tests.fake_tws.server` for the server, :mod:`tests.fake_tws.scenario`
for what it serves, :mod:`tests.fake_tws.faults` for the fault controls,
:mod:`tests.fake_tws.state` for the gateway state that outlives clients,
:mod:`tests.fake_tws.runner` for the standalone process (``python -m
tests.fake_tws``) and :mod:`tests.fake_tws.protocol` for the wire format.
"""

from .catalogue import OptionChainSpec
from .faults import (
    CancelMode,
    CancelPolicy,
    DropRule,
    ErrorRule,
    FillMode,
    FillPolicy,
    GreeksFault,
    MuteRule,
    OrderRule,
)
from .pricing import Greeks, Quote
from .protocol import SERVER_VERSION, ComboLegSpec, ContractSpec, ExecutionRecord, In, Out
from .scenario import SPX_CON_ID, VIX_CON_ID, PositionSpec, Scenario, offset_clock
from .server import FakeTWS
from .session import ClientMessage, ServerMessage
from .state import ExpiredPosition, GatewayState, PositionState, WorkingOrder

__all__ = [
    "SERVER_VERSION",
    "SPX_CON_ID",
    "VIX_CON_ID",
    "CancelMode",
    "CancelPolicy",
    "ClientMessage",
    "ComboLegSpec",
    "ContractSpec",
    "DropRule",
    "ErrorRule",
    "ExecutionRecord",
    "ExpiredPosition",
    "FakeTWS",
    "FillMode",
    "FillPolicy",
    "GatewayState",
    "Greeks",
    "GreeksFault",
    "In",
    "MuteRule",
    "OptionChainSpec",
    "OrderRule",
    "Out",
    "PositionSpec",
    "PositionState",
    "Quote",
    "Scenario",
    "ServerMessage",
    "WorkingOrder",
    "offset_clock",
]
