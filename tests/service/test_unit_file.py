"""Tests for deploy/alvh.service (and deploy/ibgateway.service).

A pure-Python parse asserts the directives the daemon depends on. When
``systemd-analyze`` is on PATH (Debian: ``apt-get install systemd``; no
running systemd is needed) the units are also checked by systemd itself:
``verify`` inside a temporary root where the ExecStart binaries exist, and
``security --offline=yes`` whose overall exposure must be at most 2.5.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.exits import NO_RESTART, ExitStatus
from daemon.service import UNIT_TIMEOUT_STOP_S, LoopWatchdog, SdNotifier, ServiceConfig
from daemon.shutdown import stop_grace_s

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "alvh.service"
GATEWAY_UNIT = DEPLOY / "ibgateway.service"
MAX_EXPOSURE = 2.5
TIMEOUT_S = 120

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze not on PATH (install it with: apt-get install -y systemd)",
)


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> values, in file order (repeated keys keep every value).

    Handles comments, blank lines and backslash line continuations, as
    systemd.syntax(7) describes; enough for our own unit files.
    """
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], defaultdict(list))
            continue
        assert current is not None, f"{path}: assignment outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not an assignment: {line!r}"
        current[key.strip()].append(value.strip())
    return sections


def single(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key)
    assert values, f"{key}= is missing"
    return values[-1]


# --------------------------------------------------------------------------- pure Python


def test_service_directives() -> None:
    unit = parse_unit(UNIT)
    assert set(unit) == {"Unit", "Service", "Install"}
    svc = unit["Service"]
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "60",
        "Restart": "on-failure",
        "User": "alvh",
        "Group": "alvh",
        "StateDirectory": "alvh",
        "ConfigurationDirectory": "alvh",
        "ExecStart": "/opt/alvh/.venv/bin/alvh run --config /etc/alvh/alvh.toml",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert single(svc, key) == value, key
    assert int(single(svc, "RestartSec")) > 0
    assert int(single(svc, "TimeoutStopSec")) > 0
    assert single(unit["Install"], "WantedBy") == "multi-user.target"
    env = dict(v.split("=", 1) for v in svc["Environment"])
    assert env["ALVH_JOURNAL__PATH"] == "/var/lib/alvh/alvh.sqlite"


def test_sandbox_directives() -> None:
    svc = parse_unit(UNIT)["Service"]
    yes = [
        "NoNewPrivileges",
        "PrivateTmp",
        "PrivateDevices",
        "PrivateUsers",
        "ProtectHome",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "RestrictNamespaces",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "RemoveIPC",
        "LockPersonality",
        "MemoryDenyWriteExecute",
    ]
    for key in yes:
        assert single(svc, key) == "yes", key
    assert single(svc, "ProtectSystem") == "strict"
    assert single(svc, "ProtectProc") == "invisible"
    assert single(svc, "ProcSubset") == "pid"
    assert single(svc, "CapabilityBoundingSet") == ""  # no capabilities at all
    assert single(svc, "SystemCallArchitectures") == "native"
    assert svc["SystemCallFilter"][0] == "@system-service"
    assert set(single(svc, "RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    # loopback TCP to the Gateway and nothing else
    assert single(svc, "IPAddressDeny") == "any"
    assert single(svc, "IPAddressAllow") == "localhost"
    assert "PrivateNetwork" not in svc  # would hide the host's loopback Gateway


def test_watchdog_matches_service_defaults() -> None:
    """WatchdogSec=60 -> LoopWatchdog beats every 30 s and tolerates 15 s of loop lag."""
    svc = parse_unit(UNIT)["Service"]
    watchdog_s = float(single(svc, "WatchdogSec"))
    config = ServiceConfig()
    assert config.watchdog and config.max_loop_lag_s is None
    dog = LoopWatchdog(SdNotifier(""), watchdog_s, max_lag_s=config.max_loop_lag_s)
    assert (dog.period_s, dog.max_lag_s, dog.tick_s) == (30.0, 15.0, 1.0)
    # a beat delayed by the largest tolerated lag still lands inside WatchdogSec
    assert dog.period_s + dog.max_lag_s < watchdog_s
    # the broker may be down longer than a Gateway restart before health fails
    assert config.broker_grace_s >= 300


def test_no_restart_after_a_refused_account_or_a_journal_in_use() -> None:
    svc = parse_unit(UNIT)["Service"]
    prevented = {int(v) for v in single(svc, "RestartPreventExitStatus").split()}
    assert prevented == {int(status) for status in NO_RESTART}
    assert {ExitStatus.UNSAFE_ACCOUNT, ExitStatus.JOURNAL_LOCKED} <= prevented
    assert ExitStatus.BROKER not in prevented  # a Gateway that is down comes back


def test_stop_timeout_outlasts_the_stop_grace() -> None:
    """The daemon stops within stop_grace_s; systemd's SIGKILL comes TimeoutStopSec later."""
    svc = parse_unit(UNIT)["Service"]
    timeout_stop_s = float(single(svc, "TimeoutStopSec"))
    assert timeout_stop_s == UNIT_TIMEOUT_STOP_S == 90  # the config's bound on the grace
    grace = stop_grace_s(load_config(None))
    assert grace + 10 <= timeout_stop_s, (grace, timeout_stop_s)
    assert single(svc, "KillMode") == "mixed"  # SIGTERM to the daemon only


def test_gateway_unit_directives() -> None:
    unit = parse_unit(GATEWAY_UNIT)
    svc = unit["Service"]
    exec_start = single(svc, "ExecStart")
    assert "--gateway" in exec_start and "--mode=paper" in exec_start
    assert "--ibc-ini=/etc/ibc/config.ini" in exec_start
    assert single(svc, "User") == "ibgateway"
    assert single(unit["Unit"], "Before") == "alvh.service"


def test_parse_unit_continuations(tmp_path: Path) -> None:
    path = tmp_path / "x.service"
    path.write_text(
        "[Service]\n# c\nExecStart=/bin/a \\\n  --b\nEnvironment=A=1\nEnvironment=B=2\n"
    )
    svc = parse_unit(path)["Service"]
    assert svc["ExecStart"] == ["/bin/a  --b"]
    assert svc["Environment"] == ["A=1", "B=2"]


# --------------------------------------------------------------------------- systemd-analyze


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [SYSTEMD_ANALYZE, "--no-pager", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )


def _fake_root(tmp_path: Path, units: list[Path]) -> Path:
    """A root with the system's stock units, our units and stub ExecStart binaries."""
    root = tmp_path / "root"
    for stock in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        if Path(stock).is_dir() and not (root / stock.lstrip("/")).exists():
            shutil.copytree(stock, root / stock.lstrip("/"), symlinks=True)
            break
    system = root / "etc/systemd/system"
    system.mkdir(parents=True, exist_ok=True)
    for unit in units:
        shutil.copy(unit, system / unit.name)
        for exec_line in parse_unit(unit)["Service"]["ExecStart"]:
            binary = root / exec_line.split()[0].lstrip("/")
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_text("#!/bin/sh\nexit 0\n")
            binary.chmod(0o755)
    return root


@needs_systemd
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    root = _fake_root(tmp_path, [UNIT, GATEWAY_UNIT])
    result = _analyze("verify", f"--root={root}", "--man=no", "alvh.service", "ibgateway.service")
    problems = [
        line for line in result.stderr.splitlines() if "alvh" in line or "ibgateway" in line
    ]
    assert result.returncode == 0, result.stderr
    assert problems == [], "\n".join(problems)


@needs_systemd
def test_systemd_analyze_verify_catches_mistakes(tmp_path: Path) -> None:
    """Control: the same check does flag an unknown directive and a missing binary."""
    broken = tmp_path / "src" / "alvh.service"
    broken.parent.mkdir()
    broken.write_text(UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilegez=yes"))
    root = _fake_root(tmp_path, [broken])
    result = _analyze("verify", f"--root={root}", "--man=no", "alvh.service")
    assert "Unknown key" in result.stderr and "NoNewPrivilegez" in result.stderr
    (root / "opt/alvh/.venv/bin/alvh").unlink()
    result = _analyze("verify", f"--root={root}", "--man=no", "alvh.service")
    assert result.returncode != 0 and "not executable" in result.stderr


def exposure(output: str) -> float:
    """The overall exposure score from ``systemd-analyze security`` output."""
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match, f"no exposure score in:\n{output[-2000:]}"
    return float(match.group(1))


def test_exposure_parser() -> None:
    text = "✓ UMask= ...\n\n→ Overall exposure level for alvh.service: 0.9 SAFE 😀\n"
    assert exposure(text) == 0.9
    assert exposure("Overall exposure level for x.service: 10.0 UNSAFE") == 10.0


@needs_systemd
def test_systemd_analyze_security_exposure() -> None:
    result = _analyze("security", "--offline=yes", str(UNIT))
    if result.returncode != 0 and "--offline" in result.stderr:
        pytest.skip(f"systemd-analyze too old for --offline: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    score = exposure(result.stdout)
    assert score <= MAX_EXPOSURE, result.stdout
    # the only accepted exposures are the network ones the daemon needs
    flagged = {
        line.split()[1]
        for line in result.stdout.splitlines()
        if line.startswith("✗") and len(line.split()) > 1
    }
    allowed = {
        "RootDirectory=/RootImage=",
        "RestrictAddressFamilies=~AF_UNIX",
        "RestrictAddressFamilies=~AF_(INET|INET6)",
        "PrivateNetwork=",
        "DeviceAllow=",
        "IPAddressDeny=",
    }
    assert flagged <= allowed, flagged - allowed
