"""Generate ``docs/config-reference.md`` from the pydantic configuration models.

Every section of :class:`daemon.config.AlvhConfig` (and nested tables such as
``[events.fomc]``) becomes a table of its keys: type, default, valid range
and unit. The range comes from the field's bounds (``ge``/``gt``/``le``/``lt``,
``max_length``, literal choices); the unit from the field's ``description``
when it has one, else from the key's suffix (``_s`` seconds, ``_dollars``
dollars, ``_dte`` calendar days, ...); the section's prose is its model's
docstring. Nothing is written by hand, so the reference cannot drift from the
code: ``tests/daemon/test_docs.py`` fails when the committed file differs.

    .venv/bin/python scripts/config_reference.py          # rewrite the file
    .venv/bin/python scripts/config_reference.py --check  # exit 1 if it is stale
    make docs                                             # both references
"""

from __future__ import annotations

import inspect
import math
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon.config import AlvhConfig  # noqa: E402
from daemon.strictmodel import MAX_MAGNITUDE, MAX_TEXT_LENGTH, scalar_kinds  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_doc import write_or_check  # noqa: E402

OUTPUT = ROOT / "docs" / "config-reference.md"

#: Unit of a key by the end of its name (first match wins), when its field has no description.
SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_per_s", "per second"),
    ("_dollars", "US dollars"),
    ("_cash", "US dollars"),
    ("_per_contract", "US dollars per contract"),
    ("_s", "seconds"),
    ("_minutes", "minutes"),
    ("_hours", "hours (elapsed)"),
    ("_dte", "calendar days"),
    ("_time", "HH:MM, America/New_York"),
    ("_pct", "percent"),
    ("_share", "decimal share (0.25 = 25 %)"),
    ("_delta", "absolute delta"),
    ("_sd", "standard deviations (expected moves)"),
    ("_iv", "implied vol, decimal"),
    ("_period", "sessions"),
    ("_lookback", "sessions"),
    ("_count", "count"),
)
#: Unit of a key by its whole name, where the suffix says nothing.
NAME_UNITS: dict[str, str] = {
    "port": "TCP port",
    "market_data_type": "IB market-data type code",
    "max_msgs_per_s": "API messages per second",
    "client_id": "IB API client id",
    "wing_width": "index points",
    "min_credit": "index points",
    "walk_step": "index points",
    "combo_tick": "index points",
    "rate": "annual rate, decimal",
    "cash_rate": '"tbill" or an annual rate, decimal, -0.05..0.25',
    "otm_min": "decimal fraction above the VIX future",
    "otm_max": "decimal fraction above the VIX future",
    "stop_multiple": "multiple of the credit",
    "max_contracts": "contracts",
    "max_open_condors": "condors",
    "max_layers": "hedge layers",
    "market_data_lines": "IB market-data lines",
    "market_data_lines_budget": "IB market-data lines",
    "vix_futures_count": "futures",
    "slippage_pct_of_half_spread": "decimal share of the half spread",
    "divergence_tolerance": "NYSE issues",
    "term_spread_threshold": "VIX points",
    "regime_calm_below": "VIX points",
    "regime_stressed_above": "VIX points",
    "max_job_failures": "consecutive failed jobs",
    "connect_attempts": "attempts",
    "macd_fast": "sessions",
    "macd_slow": "sessions",
    "macd_signal": "sessions",
    "misfire_grace_s": "seconds",
}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(
            f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in typing.get_args(annotation)
        )
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is dict:
        value = typing.get_args(annotation)[1]
        return f"table of {_type_name(value)}"
    if annotation is type(None):
        return "none"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return f"table `{annotation.__name__}`"
        return {"str": "text", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__,
            "path" if annotation.__name__.endswith("Path") else annotation.__name__,
        )
    return str(annotation)


def _fmt_number(v: float) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def _range(info: FieldInfo) -> str:
    kinds = scalar_kinds(info.annotation)
    low = high = None
    for meta in info.metadata:
        for attr, op in (("ge", ">="), ("gt", ">")):
            if getattr(meta, attr, None) is not None:
                low = f"{op} {_fmt_number(getattr(meta, attr))}"
        for attr, op in (("le", "<="), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                high = f"{op} {_fmt_number(getattr(meta, attr))}"
    if kinds & {int, float} and not kinds & {str}:
        low = low or f">= {_fmt_number(-MAX_MAGNITUDE)}"
        high = high or f"<= {_fmt_number(MAX_MAGNITUDE)}"
        finite = ", finite" if float in kinds else ""
        return f"{low}, {high}{finite}"
    if kinds & {str} and typing.get_origin(info.annotation) is not typing.Literal:
        limit = next(
            (m.max_length for m in info.metadata if getattr(m, "max_length", None)), MAX_TEXT_LENGTH
        )
        return f"at most {limit:,} characters, no control characters"
    if kinds & {Path}:
        return f"at most {MAX_TEXT_LENGTH:,} characters, no control characters"
    if kinds == {bool}:
        return "`true` or `false`"
    return ""


def _default(info: FieldInfo, instance: BaseModel | None, name: str) -> str:
    """The key's default: from the enclosing table's default value when nested."""
    if instance is not None:
        value = getattr(instance, name)
    else:
        value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str | Path):
        return f'`"{value}"`'
    if isinstance(value, float) and math.isfinite(value):
        return f"`{value:g}`"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, dict):
        return "`{}`" if not value else "see below"
    return f"`{value}`"


def _unit(name: str, info: FieldInfo) -> str:
    if info.description:
        return " ".join(info.description.split())
    if name in NAME_UNITS:
        return NAME_UNITS[name]
    for suffix, unit in SUFFIX_UNITS:
        if name.endswith(suffix):
            return unit
    return ""


def _doc(model: type[BaseModel]) -> str:
    text = inspect.getdoc(model) or ""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)  # Sphinx roles -> code
    return text.replace("``", "`")


def _table(
    title: str, model: type[BaseModel], out: list[str], instance: BaseModel | None = None
) -> None:
    """Append the section ``title`` (and its nested tables) to ``out``.

    ``instance`` is the section's default value inside its parent table, whose
    values (e.g. ``[events.fomc]`` 48 h) differ from the model's own defaults.
    """
    out.append(f"## `[{title}]`")
    out.append("")
    doc = _doc(model)
    if doc:
        out.append(doc)
        out.append("")
    out.append("| key | type | default | valid values | unit |")
    out.append("| --- | --- | --- | --- | --- |")
    nested: list[tuple[str, type[BaseModel], BaseModel | None]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        out.append(
            f"| `{name}` | {_type_name(annotation)} | {_default(info, instance, name)} "
            f"| {_range(info)} | {_unit(name, info)} |"
        )
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            value = getattr(instance, name) if instance is not None else info.get_default()
            nested.append((f"{title}.{name}", annotation, value))
        elif typing.get_origin(annotation) is dict:
            value_type = typing.get_args(annotation)[1]
            if isinstance(value_type, type) and issubclass(value_type, BaseModel):
                nested.append((f'{title}.{name}."<name>"', value_type, None))
    out.append("")
    for sub_title, sub, sub_instance in nested:
        _table(sub_title, sub, out, sub_instance if isinstance(sub_instance, BaseModel) else None)


def render() -> str:
    """The whole reference (Markdown)."""
    out = [
        "# Configuration reference",
        "",
        "<!-- GENERATED by scripts/config_reference.py from the pydantic models in",
        "     daemon/config/ (and the sections they include); do not edit by hand:",
        "     run `make docs`. tests/daemon/test_docs.py fails when it is stale. -->",
        "",
        "A TOML file (`alvh run --config FILE`); every key is optional and",
        "`config/alvh.example.toml` lists them all with their defaults. An environment",
        "variable `ALVH_<SECTION>__<KEY>` overrides a key (`ALVH_BROKER__PORT=4001`),",
        "except that the environment alone never switches `trading_mode` to live.",
        "",
        "Every value is checked strictly: a number key takes a number only (not",
        "`true`, not a string; a decimal key also takes an integer), finite, inside",
        "its range; a boolean key `true` or `false`; text has no control or",
        "bidirectional-override characters. Unknown keys are errors. A mistake",
        "prints one line naming the file (or variable), the key and the problem, and",
        "`alvh` exits with status 2.",
        "",
    ]
    sections = list(AlvhConfig.model_fields.items())
    out.append("Sections: " + ", ".join(f"[`[{n}]`](#{n})" for n, _ in sections) + ".")
    out.append("")
    for name, info in sections:
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        _table(name, model, out)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    return write_or_check(OUTPUT, ROOT, render, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
