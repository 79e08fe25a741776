"""Gateway state of the fake TWS: what outlives a client connection (and the server).

Orders (with their fill policy and pending timed actions), executions of the
day with their commissions, positions, expired positions and the id counters.
:meth:`GatewayState.save` writes it as JSON atomically (temporary file, fsync,
rename) and :meth:`GatewayState.load` reads it back, so the standalone runner
can be killed and restarted without losing positions or working orders.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .faults import FillPolicy
from .wire import ComboLegSpec, ContractSpec, ExecutionRecord, OrderRequest

#: Order statuses after which an order is no longer working.
DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})

STATE_VERSION = 1


@dataclass(slots=True)
class WorkingOrder:
    """Server-side state of an order (kept after it is done)."""

    req: OrderRequest
    client_id: int
    perm_id: int
    account: str
    policy: FillPolicy
    status: str
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    leg_fills: dict[int, tuple[float, float]] = field(default_factory=dict)  # conId -> (qty, avg)
    #: placeOrder messages for this order after the first (price walks).
    modifications: int = 0
    cancel_requested: bool = False
    #: Epoch seconds at which a delayed cancel confirmation is due.
    cancel_due: float | None = None
    #: Epoch seconds at which a late fill is due, with its quantity (None: the rest)
    #: and price (None: the limit).
    late_fill_due: float | None = None
    late_fill_quantity: float | None = None
    late_fill_price: float | None = None

    @property
    def order_id(self) -> int:
        """The client's order id."""
        return self.req.order_id

    @property
    def order_ref(self) -> str:
        """The orderRef the client gave."""
        return self.req.order_ref

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return max(self.req.total_quantity - self.filled, 0.0)

    @property
    def is_working(self) -> bool:
        """Whether the order can still fill or be cancelled."""
        return self.status not in DONE_STATUSES

    def summary(self) -> dict[str, Any]:
        """A JSON-able one-line view (control channel, logs)."""
        return {
            "order_id": self.order_id,
            "client_id": self.client_id,
            "perm_id": self.perm_id,
            "order_ref": self.order_ref,
            "account": self.account,
            "status": self.status,
            "action": self.req.action,
            "quantity": self.req.total_quantity,
            "filled": self.filled,
            "remaining": self.remaining,
            "lmt_price": self.req.lmt_price,
            "sec_type": self.req.contract.sec_type,
            "con_id": self.req.contract.con_id,
            "legs": [[leg.con_id, leg.ratio, leg.action] for leg in self.req.combo_legs],
            "modifications": self.modifications,
            "cancel_requested": self.cancel_requested,
            "policy": self.policy.to_dict(),
        }


@dataclass(slots=True)
class PositionState:
    """A position held by the fake broker (avg_cost includes the multiplier)."""

    account: str
    contract: ContractSpec
    quantity: float
    avg_cost: float


@dataclass(slots=True)
class ExpiredPosition:
    """A position removed because its contract expired."""

    account: str
    contract: ContractSpec
    quantity: float
    avg_cost: float
    expired_at: datetime


def _random_perm_base() -> int:
    return 1_000_000_000 + secrets.randbelow(800_000_000)


@dataclass
class GatewayState:
    """Everything the gateway keeps across client connections (see the module docstring)."""

    orders: list[WorkingOrder] = field(default_factory=list)
    executions: list[ExecutionRecord] = field(default_factory=list)
    positions: dict[tuple[str, int], PositionState] = field(default_factory=dict)
    expired: list[ExpiredPosition] = field(default_factory=list)
    next_order_id: int = 1
    next_perm_id: int = field(default_factory=_random_perm_base)
    next_exec_seq: int = 1
    #: First segment of every execId this gateway issues (random per state).
    exec_prefix: str = field(default_factory=lambda: secrets.token_hex(4))
    #: execId -> epoch seconds at which its commission report is due.
    pending_commissions: dict[str, float] = field(default_factory=dict)

    def take_perm_id(self) -> int:
        """A new permId."""
        self.next_perm_id += 1
        return self.next_perm_id - 1

    def new_exec_id(self, leg: int) -> str:
        """A new execId for leg ``leg`` of one fill; call :meth:`advance_exec_seq` after."""
        return f"{self.exec_prefix}.{self.next_exec_seq:08x}.{leg + 1:02d}.01"

    def advance_exec_seq(self) -> None:
        """Move to the next fill's execId sequence number."""
        self.next_exec_seq += 1

    def open_positions(self) -> list[PositionState]:
        """Positions with a non-zero quantity."""
        return [p for p in self.positions.values() if p.quantity != 0]

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "version": STATE_VERSION,
            "next_order_id": self.next_order_id,
            "next_perm_id": self.next_perm_id,
            "next_exec_seq": self.next_exec_seq,
            "exec_prefix": self.exec_prefix,
            "pending_commissions": self.pending_commissions,
            "orders": [_order_to_dict(o) for o in self.orders],
            "executions": [execution_to_dict(e) for e in self.executions],
            "positions": [
                {
                    "account": p.account,
                    "contract": dataclasses.asdict(p.contract),
                    "quantity": p.quantity,
                    "avg_cost": p.avg_cost,
                }
                for p in self.positions.values()
            ],
            "expired": [
                {
                    "account": x.account,
                    "contract": dataclasses.asdict(x.contract),
                    "quantity": x.quantity,
                    "avg_cost": x.avg_cost,
                    "expired_at": x.expired_at.isoformat(),
                }
                for x in self.expired
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayState:
        """Rebuild from :meth:`to_dict` output."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported fake TWS state version {data.get('version')!r}")
        state = cls(
            next_order_id=int(data["next_order_id"]),
            next_perm_id=int(data["next_perm_id"]),
            next_exec_seq=int(data["next_exec_seq"]),
            exec_prefix=str(data["exec_prefix"]),
            pending_commissions={k: float(v) for k, v in data["pending_commissions"].items()},
        )
        state.orders = [_order_from_dict(o) for o in data["orders"]]
        state.executions = [execution_from_dict(e) for e in data["executions"]]
        for p in data["positions"]:
            contract = ContractSpec(**p["contract"])
            state.positions[(p["account"], contract.con_id)] = PositionState(
                p["account"], contract, float(p["quantity"]), float(p["avg_cost"])
            )
        state.expired = [
            ExpiredPosition(
                x["account"],
                ContractSpec(**x["contract"]),
                float(x["quantity"]),
                float(x["avg_cost"]),
                datetime.fromisoformat(x["expired_at"]),
            )
            for x in data["expired"]
        ]
        return state

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file in the same directory, fsync, rename."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> GatewayState:
        """Read a state file written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


# ---------------------------------------------------------------- (de)serialise


def execution_to_dict(e: ExecutionRecord) -> dict[str, Any]:
    """JSON-able form of one execution (the control channel shows the same)."""
    data = dataclasses.asdict(e)
    data["time"] = e.time.isoformat()
    return data


def execution_from_dict(data: dict[str, Any]) -> ExecutionRecord:
    """Inverse of :func:`execution_to_dict`."""
    values = dict(data)
    values["contract"] = ContractSpec(**values["contract"])
    values["time"] = datetime.fromisoformat(values["time"])
    return ExecutionRecord(**values)


def _request_from_dict(data: dict[str, Any]) -> OrderRequest:
    values = dict(data)
    values["contract"] = ContractSpec(**values["contract"])
    values["combo_legs"] = [ComboLegSpec(**leg) for leg in values["combo_legs"]]
    values["smart_combo_routing_params"] = [tuple(t) for t in values["smart_combo_routing_params"]]
    values["algo_params"] = [tuple(t) for t in values["algo_params"]]
    return OrderRequest(**values)


def _order_to_dict(o: WorkingOrder) -> dict[str, Any]:
    data = {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
    data["req"] = dataclasses.asdict(o.req)
    data["policy"] = o.policy.to_dict()
    data["leg_fills"] = {str(k): list(v) for k, v in o.leg_fills.items()}
    return data


def _order_from_dict(data: dict[str, Any]) -> WorkingOrder:
    values = dict(data)
    values["req"] = _request_from_dict(values["req"])
    values["policy"] = FillPolicy.from_dict(values["policy"])
    values["leg_fills"] = {
        int(k): (float(v[0]), float(v[1])) for k, v in values["leg_fills"].items()
    }
    return WorkingOrder(**values)
