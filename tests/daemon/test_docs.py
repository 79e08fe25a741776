"""The generated references match the code, and the hand-written docs agree with them."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "doc"), [("config_reference", "config-reference.md"), ("cli_reference", "cli.md")]
)
def test_generated_reference_is_current(script: str, doc: str) -> None:
    committed = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    assert committed == _script(script).render(), f"docs/{doc} is stale: run `make docs`"


def test_config_reference_names_every_key_with_its_default() -> None:
    from daemon.config import AlvhConfig

    text = (ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8")
    for section, info in AlvhConfig.model_fields.items():
        assert f"## `[{section}]`" in text
        model = info.annotation
        assert isinstance(model, type)
        for key in model.model_fields:  # type: ignore[attr-defined]
            assert f"| `{key}` |" in text, f"[{section}] {key} missing"
    assert "| `port` | integer | `4002` | >= 1, <= 65,535 | TCP port |" in text


def test_cli_reference_documents_every_flag() -> None:
    from daemon.cli import build_parser

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    seen = 0

    def walk(parser: object) -> None:
        nonlocal seen
        for action in parser._actions:  # type: ignore[attr-defined]
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in text, option
                    seen += 1
            for sub in getattr(action, "choices", None) or {}:
                if hasattr(action, "_name_parser_map"):
                    walk(action._name_parser_map[sub])

    walk(build_parser())
    assert seen > 30
    assert "`--version`" in text


def test_links_between_docs_resolve() -> None:
    """Every relative Markdown link in README, docs/ and deploy/ names an existing file."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy/README.md"]
    for md in files:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", md.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (md.parent / target).exists(), f"{md.relative_to(ROOT)} links {target}"
        for mention in re.findall(r"`(docs/[\w.-]+\.md)`", md.read_text(encoding="utf-8")):
            assert (ROOT / mention).exists(), f"{md.relative_to(ROOT)} names {mention}"


def test_ibc_incoming_connection_setting_agrees() -> None:
    """docs/interactive-brokers.md and deploy/README.md give IBC the same setting (reject)."""
    pattern = re.compile(r"AcceptIncomingConnectionAction=(\w+)")
    for md in (ROOT / "docs" / "interactive-brokers.md", ROOT / "deploy" / "README.md"):
        assert set(pattern.findall(md.read_text(encoding="utf-8"))) == {"reject"}, md
