"""The second engine's settings: apart from the first engine in every file, socket,
bridge and rule, and never a setting that would disturb the first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerize import process
from containerize.errors import ProvisionError
from containerize.host import provision, second
from containerize.host.provision import Layout


def test_its_daemon_config_shares_nothing_with_the_first(tmp_path: Path) -> None:
    first = Layout(root=tmp_path / "engine")
    other = second.Second(layout=first, run=tmp_path / "run")
    other.root.mkdir(parents=True)
    second._write_config(other)
    config = json.loads(other.config.read_text())
    assert config["features"] == {"containerd-snapshotter": True}
    assert config["builder"] == {"gc": {"enabled": True, "defaultKeepStorage": "20GB"}}
    assert config["hosts"] == [f"unix://{tmp_path / 'run' / 'docker.sock'}"]
    assert config["data-root"] == str(tmp_path / "engine" / "second" / "docker")
    assert config["exec-root"] == str(tmp_path / "run" / "exec")
    assert config["pidfile"] == str(tmp_path / "run" / "docker.pid")
    # A bridge of its own, never "none" (that deletes docker0 under the first engine),
    # and the first engine's iptables rules left alone.
    assert config["bridge"] == second.BRIDGE
    assert config["iptables"] is False
    # Either of these makes dockerd delete docker0, the first engine's bridge.
    assert "default-address-pools" not in config
    assert config["bridge"] != "none"
    assert str(first.docker_data) not in json.dumps(config)


def routes(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(argv: list[str], **kwargs: object) -> process.Completed:
        assert argv == ["ip", "-4", "route", "show"]
        return process.Completed(argv=tuple(argv), returncode=0, stdout=text, stderr="")

    monkeypatch.setattr(process, "run", run)


def test_its_bridge_takes_the_first_subnet_no_route_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    routes(
        "default via 192.0.2.1 dev eth0\n"
        "172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown\n"
        "10.213.0.0/16 dev vpn0 scope link\n",
        monkeypatch,
    )
    assert second._free_subnet() == "10.199.13.0/24"


def test_no_free_subnet_says_how_to_make_the_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    routes("10.0.0.0/8 dev a0\n192.168.0.0/16 dev b0\n", monkeypatch)
    with pytest.raises(ProvisionError, match="every subnet containerize tries") as raised:
        second._free_subnet()
    assert f"ip link add {second.BRIDGE} type bridge" in (raised.value.hint or "")


def test_its_rules_are_marked_and_confined_to_its_bridge() -> None:
    rules = second._rules("10.213.77.0/24")
    assert [(table, chain) for table, chain, _ in rules] == [
        ("nat", "POSTROUTING"),
        ("filter", "FORWARD"),
        ("filter", "FORWARD"),
    ]
    for _, _, rule in rules:
        assert rule[-6:-2] == ["-m", "comment", "--comment", second.RULE_COMMENT]
        assert second.BRIDGE in rule


def test_the_first_engines_bridge_is_put_back_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []

    def run(argv: list[str], **kwargs: object) -> process.Completed:
        ran.append(list(argv))
        gone = argv[:4] == ["ip", "-o", "-4", "addr"]  # the bridge is asked for: gone
        return process.Completed(
            argv=tuple(argv), returncode=1 if gone else 0, stdout="", stderr=""
        )

    monkeypatch.setattr(process, "run", run)
    second._restore_bridge("docker0", ["172.17.0.1/16"])
    assert ran[1:] == [
        ["ip", "link", "add", "docker0", "type", "bridge"],
        ["ip", "addr", "add", "172.17.0.1/16", "dev", "docker0"],
        ["ip", "link", "set", "docker0", "up"],
    ]
    # A bridge that was not there before is not made.
    ran.clear()
    second._restore_bridge("docker0", None)
    assert ran == []


def test_the_first_engines_build_cache_is_bounded(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path / "engine")
    layout.root.mkdir(parents=True)
    config = json.loads(provision._daemon_config(layout).read_text())
    assert config["builder"] == {"gc": {"enabled": True, "defaultKeepStorage": "20GB"}}
    assert config["data-root"] == str(layout.docker_data)
