"""Bring up a BuildKit engine, arm64 emulation and a loopback registry on a Debian host.

This is how containerize's own tests and CI get a real engine on a machine that has
none, and how a developer on a bare Debian box gets one without a Docker install
guide. It is idempotent and conservative:

* an engine that already answers is used as it is and never touched;
* otherwise, as root on Debian, dockerd 26 (with the containerd image store), the
  buildx plugin and containerd are taken from Debian's *trixie* packages, unpacked into
  a prefix of our own (installing them would upgrade libc), and started with logs under
  the state directory;
* qemu user emulation is registered for the non-native platforms;
* a registry (the CNCF distribution registry from Debian) serves on 127.0.0.1:5000.

``down`` stops only the daemons this module started, as recorded in its state file.
The apt mirror comes from the host's own apt sources; nothing here names a mirror.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from containerize import process
from containerize.engine.probes import (
    EMULATORS,
    REGISTRY_ADDRESS,
    daemon_reachable,
    emulator_enabled,
    engine_reachable,
    registry_reachable,
)
from containerize.errors import ProvisionError

logger = logging.getLogger("containerize")

DEFAULT_STATE_DIR = Path("/var/lib/containerize-engine")

# Host packages from the running release (bookworm): runc from trixie needs a newer
# glibc, so the host's runc is used; tini-static stands in for docker-init.
HOST_PACKAGES = (
    "runc",
    "iptables",
    "tini",
    "qemu-user-static",
    "binfmt-support",
    "docker-registry",
    "mmdebstrap",
    "arch-test",  # mmdebstrap needs it for a foreign --arch (a Recommends, not a Depends)
)
# Engine packages from trixie, unpacked into our prefix (never installed).
ENGINE_PACKAGES = ("docker.io", "docker-cli", "docker-buildx", "containerd")
ENGINE_SUITE = "trixie"
# BuildKit's garbage collection, in the daemon's settings: beyond this the oldest build
# cache goes. A machine that builds for hours (benchmarks, a developer's day, CI that
# keeps its disk) otherwise fills it: 44 GB of cache and 72 GB of images were seen
# on a 100 GB disk, which then stopped every build, test and shell.
BUILD_CACHE_GC = {"gc": {"enabled": True, "defaultKeepStorage": "20GB"}}


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Where the provisioned engine keeps its files."""

    root: Path

    @property
    def prefix(self) -> Path:
        return self.root / "prefix"

    @property
    def apt(self) -> Path:
        return self.root / "apt"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def docker_data(self) -> Path:
        return self.root / "docker"

    @property
    def registry_data(self) -> Path:
        return self.root / "registry"

    @property
    def state_file(self) -> Path:
        return self.root / "started.json"

    @property
    def bin_path(self) -> str:
        dirs = [self.prefix / "usr" / "sbin", self.prefix / "usr" / "bin"]
        return os.pathsep.join([*map(str, dirs), os.environ.get("PATH", "/usr/bin:/bin")])


@dataclass(frozen=True, kw_only=True)
class Report:
    """What ``up`` found or did, one line per component."""

    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def default_layout() -> Layout:
    return Layout(root=Path(os.environ.get("CONTAINERIZE_ENGINE_DIR", DEFAULT_STATE_DIR)))


# --- up -----------------------------------------------------------------------------


def up(layout: Layout | None = None, *, emulate: Iterable[str] = ("arm64",)) -> Report:
    """Make an engine with buildx, emulation for *emulate* and the registry available."""
    layout = layout or default_layout()
    lines: list[str] = []
    started = _read_state(layout)

    engine_ok = engine_reachable()
    missing_emulators = [arch for arch in emulate if not emulator_enabled(arch)]
    registry_ok = registry_reachable()
    if engine_ok and not missing_emulators and registry_ok:
        return Report(
            lines=(
                "engine: reachable, buildx present (left as it is)",
                f"registry: {REGISTRY_ADDRESS} answers (left as it is)",
                *(f"emulation: linux/{a} enabled" for a in emulate),
            )
        )

    _require_debian_root(what=_needed(engine_ok, missing_emulators, registry_ok))
    layout.logs.mkdir(parents=True, exist_ok=True)
    _install_host_packages()

    if missing_emulators:
        _enable_emulation(missing_emulators)
    lines.extend(f"emulation: linux/{a} enabled" for a in emulate)

    if engine_ok:
        lines.append("engine: reachable, buildx present (left as it is)")
    else:
        _unpack_engine(layout)
        _install_plugin_links(layout)
        if daemon_reachable():
            # Someone else's daemon: add the plugin, never a second dockerd.
            lines.append("engine: reachable (left as it is); buildx plugin installed")
        else:
            started["dockerd"] = _start_dockerd(layout)
            _write_state(layout, started)
            lines.append(f"engine: started dockerd (log: {layout.logs / 'dockerd.log'})")

    if registry_ok:
        lines.append(f"registry: {REGISTRY_ADDRESS} answers (left as it is)")
    else:
        started["registry"] = _start_registry(layout)
        _write_state(layout, started)
        lines.append(
            f"registry: started on {REGISTRY_ADDRESS} (log: {layout.logs / 'registry.log'})"
        )
    return Report(lines=tuple(lines))


def _needed(engine_ok: bool, emulators: list[str], registry_ok: bool) -> str:
    parts = [] if engine_ok else ["a docker engine with buildx"]
    parts += [f"emulation for linux/{a}" for a in emulators]
    parts += [] if registry_ok else [f"a registry on {REGISTRY_ADDRESS}"]
    return ", ".join(parts)


def _require_debian_root(*, what: str) -> None:
    fix = (
        "install Docker Engine 24+ with the buildx plugin and the containerd image store, "
        "register qemu emulators (binfmt), and run a registry on 127.0.0.1:5000; "
        "then run 'containerize doctor'"
    )
    if os.geteuid() != 0:
        raise ProvisionError(
            f"missing {what}, and provisioning it needs root",
            hint=f"run 'containerize engine up' as root on Debian, or {fix}",
        )
    os_release = _os_release()
    if os_release.get("ID") != "debian" and "debian" not in os_release.get("ID_LIKE", ""):
        name = os_release.get("PRETTY_NAME", "this system")
        raise ProvisionError(
            f"missing {what}, and containerize can only provision on Debian, not {name}",
            hint=fix,
        )


def _os_release() -> dict[str, str]:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key: value.strip().strip('"') for key, value in pairs}


def _install_host_packages() -> None:
    missing = [pkg for pkg in HOST_PACKAGES if not _dpkg_installed(pkg)]
    if not missing:
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    process.run(["apt-get", "update", "-q"], env=env, timeout=600)
    process.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        env=env,
        timeout=1200,
    )


def _dpkg_installed(package: str) -> bool:
    result = process.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", package], check=False)
    return result.stdout.strip() == "installed"


def _enable_emulation(arches: list[str]) -> None:
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        process.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)],
            hint="the kernel needs binfmt_misc support to run other architectures",
        )
    for arch in arches:
        process.run(["update-binfmts", "--enable", EMULATORS[arch]])
        if not emulator_enabled(arch):
            raise ProvisionError(
                f"qemu emulation for linux/{arch} did not register",
                hint=f"check 'update-binfmts --display {EMULATORS[arch]}'",
            )


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The first Debian archive URI of the host's apt sources (deb822 or one-line)."""
    # Debian's own file first: a third-party repository must not be taken for the archive.
    candidates = sorted(
        (apt_dir / "sources.list.d").glob("*.sources"), key=lambda p: p.name != "debian.sources"
    )
    for path in candidates:
        for stanza in path.read_text().split("\n\n"):
            pairs = (
                line.split(":", 1)
                for line in stanza.splitlines()
                if ":" in line and not line.startswith("#")
            )
            fields = {key.strip(): value.strip() for key, value in pairs}
            suites = fields.get("Suites", "").split()
            if any(not s.endswith(("-security", "-updates")) for s in suites):
                uri = fields.get("URIs", "").split()
                if uri:
                    return uri[0]
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if match and not match[2].endswith(("-security", "-updates")):
                return match[1]
    raise ProvisionError(
        "cannot find a Debian mirror in the host's apt sources",
        hint="configure a Debian archive in /etc/apt/sources.list.d/debian.sources",
    )


def _unpack_engine(layout: Layout) -> None:
    marker = layout.prefix / ".complete"
    if marker.exists():
        return
    lists = layout.apt / "lists"
    archives = layout.apt / "archives"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    sources = layout.apt / "sources.list"
    sources.write_text(f"deb {debian_mirror()} {ENGINE_SUITE} main\n")
    apt_options = [
        "-o", f"Dir::Etc::sourcelist={sources}",
        "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={lists}",
        "-o", f"Dir::Cache::Archives={archives}",
        "-o", "APT::Get::List-Cleanup=0",
    ]  # fmt: skip
    process.run(["apt-get", *apt_options, "update", "-q"], timeout=600)
    download = layout.apt / "download"
    download.mkdir(exist_ok=True)
    for old in download.glob("*.deb"):
        old.unlink()
    process.run(["apt-get", *apt_options, "download", *ENGINE_PACKAGES], cwd=download, timeout=900)
    staging = layout.root / "prefix.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for deb in sorted(download.glob("*.deb")):
        process.run(["dpkg-deb", "-x", str(deb), str(staging)])
    shutil.rmtree(layout.prefix, ignore_errors=True)
    staging.rename(layout.prefix)
    marker.touch()


def _install_plugin_links(layout: Layout) -> None:
    plugin = layout.prefix / "usr" / "libexec" / "docker" / "cli-plugins" / "docker-buildx"
    if not plugin.exists():
        raise ProvisionError(f"the buildx plugin is missing from {plugin.parent}")
    plugin_dir = Path("/usr/local/lib/docker/cli-plugins")
    plugin_dir.mkdir(parents=True, exist_ok=True)
    _symlink(plugin, plugin_dir / "docker-buildx")
    if shutil.which("docker") is None:
        _symlink(layout.prefix / "usr" / "bin" / "docker", Path("/usr/local/bin/docker"))


def _symlink(target: Path, link: Path) -> None:
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    tmp = link.with_name(link.name + ".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


def _daemon_config(layout: Layout) -> Path:
    config: dict[str, object] = {
        "features": {"containerd-snapshotter": True},
        "data-root": str(layout.docker_data),
        "builder": BUILD_CACHE_GC,
    }
    tini = shutil.which("tini-static")
    if tini:
        config["init-path"] = tini
    proxy = layout.prefix / "usr" / "sbin" / "docker-proxy"
    if proxy.exists():
        config["userland-proxy-path"] = str(proxy)
    path = layout.root / "daemon.json"
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return path


def _start_dockerd(layout: Layout) -> int:
    dockerd = layout.prefix / "usr" / "sbin" / "dockerd"
    log = layout.logs / "dockerd.log"
    argv = [str(dockerd), "--config-file", str(_daemon_config(layout))]
    pid = _spawn(argv, log=log, env={"PATH": layout.bin_path})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if engine_reachable():
            return pid
        if not _alive(pid):
            break
        time.sleep(1)
    raise ProvisionError(
        "dockerd did not come up",
        hint=f"read its log: {log}\n{process.tail(_read(log), 15)}",
    )


def _start_registry(layout: Layout) -> int:
    layout.registry_data.mkdir(parents=True, exist_ok=True)
    config = layout.root / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {layout.registry_data}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {REGISTRY_ADDRESS}\n"
    )
    log = layout.logs / "registry.log"
    pid = _spawn(["docker-registry", "serve", str(config)], log=log, env={})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if registry_reachable():
            return pid
        if not _alive(pid):
            break
        time.sleep(0.5)
    raise ProvisionError(
        f"the registry did not answer on {REGISTRY_ADDRESS}",
        hint=f"read its log: {log}\n{process.tail(_read(log), 15)}",
    )


#: The daemons this process started: kept, so that no ``Popen`` is collected while its
#: daemon runs (that warns), and reaped by :func:`_alive` when one ends.
_STARTED: list[subprocess.Popen[bytes]] = []


def _spawn(argv: list[str], *, log: Path, env: dict[str, str]) -> int:
    """Start a daemon detached from us, output appended to *log*."""
    logger.info("$ %s  >> %s", process.quote(argv), log)
    with log.open("ab") as out:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    _STARTED.append(child)
    return child.pid


def _alive(pid: int) -> bool:
    for child in _STARTED:
        if child.pid == pid and child.poll() is not None:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child we spawned and nobody reaped shows as a zombie: that is dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --- down ---------------------------------------------------------------------------


def down(layout: Layout | None = None) -> Report:
    """Stop the daemons that ``up`` started, and nothing else."""
    layout = layout or default_layout()
    started = _read_state(layout)
    lines = []
    for name in ("registry", "dockerd"):
        pid = started.pop(name, None)
        if pid is None or not _alive(pid) or not _is_ours(pid, name):
            lines.append(f"{name}: not started by containerize, left alone")
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        lines.append(f"{name}: stopped (pid {pid})")
    _write_state(layout, started)
    return Report(lines=tuple(lines))


def _is_ours(pid: int, name: str) -> bool:
    """Guard against a recycled pid: the process must still be the daemon we started."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    expected = b"dockerd" if name == "dockerd" else b"docker-registry"
    return bool(cmdline) and cmdline[0].endswith(expected)


def _read_state(layout: Layout) -> dict[str, int]:
    try:
        data = json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_state(layout: Layout, state: dict[str, int]) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    tmp = layout.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True) + "\n")
    tmp.replace(layout.state_file)
