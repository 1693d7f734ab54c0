"""Questions to the engine and the host, each answered by asking, never assumed.

Is a daemon there, with buildx? Does the loopback registry answer? Can the kernel run
another architecture? What Python does the base image hold on each platform (probed
once per image digest and cached)? Does the daemon keep images in containerd?
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from containerize import process
from containerize.engine import docker
from containerize.errors import CommandError, EngineError
from containerize.fsutil import cache_home, write_atomic
from containerize.platforms import Platform
from containerize.targets import PROBE_SCRIPT, LibcName, TargetEnvironment

REGISTRY_ADDRESS = "127.0.0.1:5000"

# OCI architecture -> the binfmt_misc entry of its qemu emulator.
EMULATORS = {"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}
_NATIVE = {"x86_64": "amd64", "aarch64": "arm64"}


def daemon_reachable() -> bool:
    """True when ``docker`` talks to a daemon."""
    return _answers(docker.argv("info", "--format", "{{.ServerVersion}}"))


def buildx_present() -> bool:
    """True when the docker CLI has the buildx plugin."""
    return _answers(docker.buildx_argv("version"))


def engine_reachable() -> bool:
    """True when ``docker`` talks to a daemon and the buildx plugin answers."""
    return daemon_reachable() and buildx_present()


def _answers(argv: list[str]) -> bool:
    if shutil.which(argv[0]) is None:
        return False
    try:
        process.run(argv, timeout=20)
    except CommandError:
        return False
    return True


def registry_reachable(address: str = REGISTRY_ADDRESS) -> bool:
    """True when a registry answers the ``/v2/`` probe at *address*."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def native_arch() -> str:
    """This machine's OCI architecture (``amd64``, ``arm64``)."""
    machine = os.uname().machine
    return _NATIVE.get(machine, machine)


def emulator_enabled(arch: str) -> bool:
    """True when the kernel runs binaries of OCI architecture *arch* (natively or by qemu)."""
    if _NATIVE.get(os.uname().machine) == arch:
        return True
    name = EMULATORS.get(arch)
    if name is None:
        return False
    entry = Path("/proc/sys/fs/binfmt_misc") / name
    try:
        return entry.read_text().startswith("enabled")
    except OSError:
        return False


def cache_dir() -> Path:
    return cache_home() / "targets"


def probe_key(image: str, platform: Platform) -> str:
    """What a probe of *image* on *platform* is a pure function of: the image (pinned by
    digest), the platform and the probe script; a sha256, hex."""
    return hashlib.sha256(f"{image}|{platform}|{PROBE_SCRIPT}".encode()).hexdigest()


def cache_file(image: str, platform: Platform) -> Path | None:
    """Where the probe of *image* on *platform* is cached; None for an image not pinned
    by digest (a tag can move)."""
    if "@sha256:" not in image:
        return None
    key = hashlib.sha256(f"{image}|{PROBE_SCRIPT}".encode()).hexdigest()[:24]
    return cache_dir() / f"{key}-{platform.slug}.json"


def _cached_text(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return path.read_text()


def probe_target(image: str, platform: Platform) -> TargetEnvironment:
    """Run the base image's python once on *platform* to learn its environment.

    The result is cached by the image digest, so this costs one container start per
    base image and platform, ever.
    """
    return _target(image, platform, configured=None)


def _target(
    image: str,
    platform: Platform,
    *,
    configured: tuple[tuple[int, int], tuple[LibcName, tuple[int, int]]] | None,
) -> TargetEnvironment:
    """The environment of *image* on *platform*: a probe cached earlier, else the
    *configured* Python version and libc when given, else probed now (and cached)."""
    path = cache_file(image, platform)
    text = _cached_text(path)
    if text is not None:
        return TargetEnvironment.from_json(text)
    if configured is not None:
        return TargetEnvironment.from_config(platform, *configured)
    try:
        result = docker.run(
            "run", "--rm", "--network=none", "--platform", str(platform),
            "--entrypoint", "python3", image, "-c", PROBE_SCRIPT,
            timeout=300,
        )  # fmt: skip
    except CommandError as exc:
        # The daemon's words: with the containerd image store, then with the classic one.
        if any(
            words in exc.output_tail
            for words in ("no match for platform in manifest", "no matching manifest")
        ):
            raise EngineError(
                f"the base image {image} has no {platform} variant",
                hint="use a base image made for every platform the build needs "
                "('containerize base-image' makes one for linux/amd64 and linux/arm64), "
                "or build only for the platforms it has (--platform)",
            ) from None
        raise EngineError(
            f"could not run python3 in the base image {image} for {platform}",
            hint="the base image needs a python3 on PATH; for a foreign platform, "
            "check 'containerize doctor' for its emulator\n" + exc.output_tail,
        ) from None
    try:
        facts = json.loads(result.stdout)
    except ValueError:
        raise EngineError(
            f"the probe in {image} ({platform}) printed no JSON: {process.tail(result.stdout, 3)!r}"
        ) from None
    target = TargetEnvironment.from_probe(platform, facts)
    if path is not None:
        write_atomic(path, target.to_json())
    return target


def containerd_image_store() -> bool:
    """True when the daemon keeps images in containerd (it can load multi-platform)."""
    result = docker.run("info", "--format", "{{json .DriverStatus}}", check=False, timeout=30)
    try:
        status = json.loads(result.stdout or "null") or []
    except ValueError:
        return False
    return any(
        isinstance(pair, list)
        and len(pair) == 2
        and pair[0] == "driver-type"
        and "containerd.snapshotter" in pair[1]
        for pair in status
    )


def learn_targets(
    base: str,
    platforms: Sequence[Platform],
    *,
    engine: bool,
    python_version: tuple[int, int],
    libc: tuple[LibcName, tuple[int, int]],
) -> tuple[TargetEnvironment, ...]:
    """The target environment of *base* on each platform: probed with the *engine*;
    without, a probe cached earlier, else the configured *python_version* and *libc*."""
    configured = None if engine else (python_version, libc)
    return tuple(_target(base, platform, configured=configured) for platform in platforms)


def check_build_platform(base: str, targets: Sequence[TargetEnvironment], native_arch: str) -> None:
    """The venvs are made and their bytecode compiled on this machine's platform
    (*native_arch*), from the same base image: it must have that platform, with the
    targets' Python at the same path (the bytecode is for one minor version)."""
    native = Platform(os="linux", arch=native_arch)
    found = next((t for t in targets if t.platform == native), None)
    if found is None:
        try:
            found = probe_target(base, native)
        except EngineError as exc:
            raise EngineError(
                f"{exc.message}: containerize installs the wheels of every platform on this "
                f"machine's ({native}), from the same base image",
                hint=exc.hint,
            ) from None
    for target in targets:
        if (target.python_version, target.interpreter) != (
            found.python_version,
            found.interpreter,
        ):
            raise EngineError(
                f"the base image {base} has Python {_python(target)} for {target.platform} "
                f"but {_python(found)} for {native}, this machine's platform, where the "
                "venvs are made and their bytecode compiled",
                hint="use a base image with the same Python on every platform "
                "('containerize base-image' makes one)",
            )


def _python(target: TargetEnvironment) -> str:
    return f"{'.'.join(map(str, target.python_version))} at {target.interpreter}"
