"""A fake TWS / IB Gateway speaking the real TWS API socket protocol, for tests.

See :mod:`tests.fake_tws.server` for the server, :mod:`tests.fake_tws.scenario`
for what it serves and :mod:`tests.fake_tws.protocol` for the wire format.
"""

from .protocol import SERVER_VERSION, ComboLegSpec, ContractSpec, ExecutionRecord, In, Out
from .scenario import (
    SPX_CON_ID,
    VIX_CON_ID,
    DropRule,
    ErrorRule,
    FillMode,
    FillPolicy,
    Greeks,
    OptionChainSpec,
    PositionSpec,
    Quote,
    Scenario,
)
from .server import ClientMessage, FakeTWS, ServerMessage, WorkingOrder

__all__ = [
    "SERVER_VERSION",
    "SPX_CON_ID",
    "VIX_CON_ID",
    "ClientMessage",
    "ComboLegSpec",
    "ContractSpec",
    "DropRule",
    "ErrorRule",
    "ExecutionRecord",
    "FakeTWS",
    "FillMode",
    "FillPolicy",
    "Greeks",
    "In",
    "OptionChainSpec",
    "Out",
    "PositionSpec",
    "Quote",
    "Scenario",
    "ServerMessage",
    "WorkingOrder",
]
