"""Thin executors that ask the engine about images: target probes and the image store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from containerize import process
from containerize.errors import CommandError, EngineError
from containerize.fsutil import cache_home, write_atomic
from containerize.platforms import Platform
from containerize.resolve.targets import PROBE_SCRIPT, TargetEnvironment


def cache_dir() -> Path:
    return cache_home() / "targets"


def _cache_file(image: str, platform: Platform) -> Path | None:
    """Probe results are cached only for images pinned by digest: a tag can move."""
    if "@sha256:" not in image:
        return None
    key = hashlib.sha256(f"{image}|{PROBE_SCRIPT}".encode()).hexdigest()[:24]
    return cache_dir() / f"{key}-{platform.slug}.json"


def cached_target(image: str, platform: Platform) -> TargetEnvironment | None:
    """A probe result cached earlier for *image* on *platform*, if any."""
    path = _cache_file(image, platform)
    if path is None or not path.is_file():
        return None
    return TargetEnvironment.from_json(path.read_text())


def probe_target(image: str, platform: Platform) -> TargetEnvironment:
    """Run the base image's python once on *platform* to learn its environment.

    The result is cached by the image digest, so this costs one container start per
    base image and platform, ever.
    """
    cached = cached_target(image, platform)
    if cached is not None:
        return cached
    argv = [
        "docker", "run", "--rm", "--network=none", "--platform", str(platform),
        "--entrypoint", "python3", image, "-c", PROBE_SCRIPT,
    ]  # fmt: skip
    try:
        result = process.run(argv, timeout=300)
    except CommandError as exc:
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
    path = _cache_file(image, platform)
    if path is not None:
        write_atomic(path, target.to_json())
    return target


def containerd_image_store() -> bool:
    """True when the daemon keeps images in containerd (it can load multi-platform)."""
    result = process.run(
        ["docker", "info", "--format", "{{json .DriverStatus}}"], check=False, timeout=30
    )
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
