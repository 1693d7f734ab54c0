"""A second engine on this machine: another CI runner standing beside the first.

Many CI runners share one registry and nothing else. To measure and test that on one
machine, ``containerize engine second`` starts another dockerd with the first one's
binaries and nothing of its state:

* its own unix socket, data root (images, containerd's content, BuildKit's cache),
  exec root, pid file and containerd (dockerd starts one under its exec root);
* the containerd image store, like the first, so it exports BuildKit caches;
* a bridge of its own, made here, on a private /24 that no route of this machine uses.
  Never ``"bridge": "none"``, and no ``default-address-pools`` either: a dockerd
  started so deletes the interface ``docker0`` (on every start, for the pools, once it
  has a default network from an earlier start), whoever owns it, and every build step
  and container of the first engine then fails (:func:`up` checks that ``docker0``
  outlived the start, and puts it back if not). ``"iptables": false`` leaves the first
  engine's rules alone; the few rules its build steps need to reach the network (NAT out of its
  subnet, forwarding in and out of its bridge) are added here, each marked with a
  comment, and removed by :func:`down`;
* a docker context, :data:`CONTEXT`, that points at its socket:
  ``docker --context containerize-second ...``, or ``DOCKER_CONTEXT=containerize-second``
  for every docker command a build or a test matrix runs.

It reaches the registry on 127.0.0.1:5000 as the first does (docker trusts loopback
registries without TLS). The first engine is never stopped, restarted or reconfigured.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from containerize import process
from containerize.engine import docker
from containerize.errors import CommandError, ProvisionError
from containerize.host import provision
from containerize.host.provision import BUILD_CACHE_GC, Layout, Report

logger = logging.getLogger("containerize")

#: The docker context that reaches the second engine.
CONTEXT = "containerize-second"
BRIDGE = "czsecond0"
#: The first engine's bridge, which no start of the second may take away.
FIRST_BRIDGE = "docker0"
#: Where its socket, exec root and pid file live (short: unix socket paths are limited).
RUN_DIR = Path("/run/containerize-second")
#: Candidate subnets for its bridge, the first one no route of this machine uses.
SUBNETS = ("10.213.77.0/24", "10.213.78.0/24", "10.199.13.0/24", "192.168.213.0/24")
#: Marks the iptables rules added for it, so that :func:`down` removes those alone.
RULE_COMMENT = "containerize-second"


@dataclass(frozen=True, kw_only=True)
class Second:
    """Where the second engine keeps its files."""

    layout: Layout
    run: Path = RUN_DIR

    @property
    def root(self) -> Path:
        return self.layout.root / "second"

    @property
    def socket(self) -> Path:
        return self.run / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def exec_root(self) -> Path:
        return self.run / "exec"

    @property
    def pidfile(self) -> Path:
        return self.run / "docker.pid"

    @property
    def data_root(self) -> Path:
        return self.root / "docker"

    @property
    def config(self) -> Path:
        return self.root / "daemon.json"

    @property
    def state_file(self) -> Path:
        return self.root / "started.json"

    @property
    def log(self) -> Path:
        return self.layout.logs / "dockerd-second.log"


def default() -> Second:
    return Second(layout=provision.default_layout())


# --- up -----------------------------------------------------------------------------


def up(second: Second | None = None) -> Report:
    """Start the second engine and its context, unless they are there; idempotent."""
    second = second or default()
    if answers(second):
        _ensure_context(second)
        return Report(
            lines=(
                f"second engine: answers on {second.host} (left as it is)",
                f"context: {CONTEXT} -> {second.host}",
            )
        )
    if os.geteuid() != 0:
        raise ProvisionError(
            "starting a second engine needs root",
            hint="run 'containerize engine second' as root",
        )
    dockerd = _dockerd(second.layout)
    for folder in (second.root, second.data_root, second.layout.logs):
        folder.mkdir(parents=True, exist_ok=True)
    second.run.mkdir(parents=True, exist_ok=True)
    subnet = _ensure_bridge()
    _ensure_rules(subnet)
    _write_config(second)
    first_bridge = _addresses(FIRST_BRIDGE)
    pid = provision._spawn(
        [str(dockerd), "--config-file", str(second.config)],
        log=second.log,
        env={"PATH": second.layout.bin_path},
    )
    _write_state(second, pid)
    deadline = time.monotonic() + 90
    while not answers(second):
        if time.monotonic() > deadline or not provision._alive(pid):
            raise ProvisionError(
                "the second dockerd did not come up",
                hint=f"read its log: {second.log}\n"
                + process.tail(provision._read(second.log), 15),
            )
        time.sleep(1)
    _restore_bridge(FIRST_BRIDGE, first_bridge)
    _ensure_context(second)
    return Report(
        lines=(
            f"second engine: started dockerd on {second.host} (log: {second.log})",
            f"bridge: {BRIDGE} on {subnet}",
            f"context: {CONTEXT} -> {second.host}",
            f"use it: docker --context {CONTEXT} info, or DOCKER_CONTEXT={CONTEXT}",
        )
    )


def answers(second: Second) -> bool:
    """True when the second engine's socket answers."""
    if not second.socket.exists():
        return False
    try:
        docker.run("--host", second.host, "info", "--format", "{{.ServerVersion}}", timeout=20)
    except CommandError:
        return False
    return True


def _dockerd(layout: Layout) -> Path:
    """The first engine's dockerd binary: the provisioned one, else the one on PATH."""
    provisioned = layout.prefix / "usr" / "sbin" / "dockerd"
    if provisioned.exists():
        return provisioned
    found = shutil.which("dockerd")
    if found:
        return Path(found)
    raise ProvisionError(
        "there is no dockerd to start a second engine with",
        hint="run 'containerize engine up' first (it unpacks dockerd into "
        f"{layout.prefix}), or install Docker Engine",
    )


def _ensure_bridge() -> str:
    """The bridge's subnet, the bridge made and up first if it is not."""
    found = _bridge_address()
    if found is None:
        subnet = _free_subnet()
        gateway = next(ipaddress.ip_network(subnet).hosts())
        prefix = ipaddress.ip_network(subnet).prefixlen
        if not _bridge_exists():
            process.run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        process.run(["ip", "addr", "add", f"{gateway}/{prefix}", "dev", BRIDGE])
        found = subnet
    process.run(["ip", "link", "set", BRIDGE, "up"])
    return found


def _bridge_exists() -> bool:
    return process.run(["ip", "link", "show", BRIDGE], check=False).returncode == 0


def _bridge_address() -> str | None:
    if not _bridge_exists():
        return None
    shown = process.run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE]).stdout.split()
    if "inet" not in shown:
        return None
    interface = ipaddress.ip_interface(shown[shown.index("inet") + 1])
    return str(interface.network)


def _addresses(interface: str) -> list[str] | None:
    """The IPv4 addresses of *interface*; None when there is no such interface."""
    shown = process.run(["ip", "-o", "-4", "addr", "show", "dev", interface], check=False)
    if shown.returncode != 0:
        return None
    words = shown.stdout.split()
    return [words[i + 1] for i, word in enumerate(words) if word == "inet"]


def _restore_bridge(interface: str, addresses: list[str] | None) -> None:
    """Put *interface* back, as it was, if it existed before and is gone now."""
    if addresses is None or _addresses(interface) is not None:
        return
    logger.warning(
        "the second dockerd removed %s, the first engine's bridge: putting it back", interface
    )
    process.run(["ip", "link", "add", interface, "type", "bridge"])
    for address in addresses:
        process.run(["ip", "addr", "add", address, "dev", interface])
    process.run(["ip", "link", "set", interface, "up"])


def _free_subnet() -> str:
    used = []
    for line in process.run(["ip", "-4", "route", "show"]).stdout.splitlines():
        first = line.split()[0] if line.split() else ""
        if first == "default":
            continue
        try:
            used.append(ipaddress.ip_network(first, strict=False))
        except ValueError:
            continue
    for candidate in SUBNETS:
        network = ipaddress.ip_network(candidate)
        if not any(network.overlaps(u) for u in used):
            return candidate
    raise ProvisionError(
        f"every subnet containerize tries for {BRIDGE} is in use ({', '.join(SUBNETS)})",
        hint=f"make the bridge yourself: ip link add {BRIDGE} type bridge; "
        f"ip addr add 10.X.Y.1/24 dev {BRIDGE}",
    )


def _rules(subnet: str) -> list[tuple[str, str, list[str]]]:
    """The iptables rules (table, chain, rule) its build steps need to reach out."""
    mark = ["-m", "comment", "--comment", RULE_COMMENT]
    return [
        ("nat", "POSTROUTING", ["-s", subnet, "!", "-o", BRIDGE, *mark, "-j", "MASQUERADE"]),
        ("filter", "FORWARD", ["-i", BRIDGE, *mark, "-j", "ACCEPT"]),
        ("filter", "FORWARD", ["-o", BRIDGE, *mark, "-j", "ACCEPT"]),
    ]


def _rule_present(table: str, chain: str, rule: list[str]) -> bool:
    checked = process.run(["iptables", "-t", table, "-C", chain, *rule], check=False)
    return checked.returncode == 0


def _ensure_rules(subnet: str) -> None:
    if shutil.which("iptables") is None:
        return  # no firewall to open: nothing to add, nothing to undo
    for table, chain, rule in _rules(subnet):
        if not _rule_present(table, chain, rule):
            process.run(["iptables", "-t", table, "-I", chain, "1", *rule])


def _write_config(second: Second) -> None:
    config: dict[str, object] = {
        "features": {"containerd-snapshotter": True},
        "hosts": [second.host],
        "data-root": str(second.data_root),
        "exec-root": str(second.exec_root),
        "pidfile": str(second.pidfile),
        "bridge": BRIDGE,
        "iptables": False,
        "ip6tables": False,
        "builder": BUILD_CACHE_GC,
    }
    tini = shutil.which("tini-static")
    if tini:
        config["init-path"] = tini
    proxy = second.layout.prefix / "usr" / "sbin" / "docker-proxy"
    if proxy.exists():
        config["userland-proxy-path"] = str(proxy)
    second.config.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _ensure_context(second: Second) -> None:
    found = docker.run(
        "context", "inspect", CONTEXT, "--format", "{{.Endpoints.docker.Host}}", check=False
    )
    if found.returncode == 0 and found.stdout.strip() == second.host:
        return
    verb = "update" if found.returncode == 0 else "create"
    docker.run(
        "context",
        verb,
        CONTEXT,
        "--description",
        "containerize's second engine (containerize engine second)",
        "--docker",
        f"host={second.host}",
    )


def _read_state(second: Second) -> int | None:
    try:
        pid = json.loads(second.state_file.read_text()).get("dockerd")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def _write_state(second: Second, pid: int | None) -> None:
    second.root.mkdir(parents=True, exist_ok=True)
    tmp = second.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({} if pid is None else {"dockerd": pid}) + "\n")
    tmp.replace(second.state_file)


# --- down ---------------------------------------------------------------------------


def down(second: Second | None = None) -> Report:
    """Stop the second engine if this module started it, and remove its context, its
    bridge and its rules. Its data root stays (``rm -rf`` it to start empty)."""
    second = second or default()
    lines = []
    pid = _read_state(second)
    if pid is not None and provision._alive(pid) and provision._is_ours(pid, "dockerd"):
        first_bridge = _addresses(FIRST_BRIDGE)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while provision._alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if provision._alive(pid):
            os.kill(pid, signal.SIGKILL)
        _restore_bridge(FIRST_BRIDGE, first_bridge)
        lines.append(f"second engine: stopped (pid {pid})")
        _write_state(second, None)
    elif answers(second):
        lines.append("second engine: not started by containerize, left alone")
        return Report(lines=tuple(lines))
    else:
        lines.append("second engine: not running")
    found = docker.run("context", "inspect", CONTEXT, check=False)
    if found.returncode == 0:
        docker.run("context", "rm", "--force", CONTEXT, check=False)
        lines.append(f"context: {CONTEXT} removed")
    subnet = _bridge_address()
    if subnet is not None and shutil.which("iptables") is not None:
        for table, chain, rule in _rules(subnet):
            while _rule_present(table, chain, rule):
                process.run(["iptables", "-t", table, "-D", chain, *rule])
    if _bridge_exists():
        process.run(["ip", "link", "delete", BRIDGE], check=False)
        lines.append(f"bridge: {BRIDGE} removed")
    return Report(lines=tuple(lines))
