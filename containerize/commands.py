"""What each ``containerize`` command does, shared by the CLI and the Nox sessions.

Each function takes plain values, calls the library, prints for a person, and returns
an exit code. Failures are raised as :class:`~containerize.errors.ContainerizeError`
for the caller (``cli.main`` or a Nox session) to report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from containerize import baseimage, config, pins, provision
from containerize import doctor as doctor_mod
from containerize.errors import ConfigError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform


def doctor(project: Path, *, platforms: Sequence[str] | None, builder: str | None) -> int:
    """Check the engine for *project*'s configuration (or the defaults without one)."""
    wanted: tuple[Platform, ...] = (LINUX_AMD64, LINUX_ARM64)
    registry = None
    if (project / "pyproject.toml").exists():
        try:
            cfg = config.load(project)
        except ConfigError as exc:
            print(f"note: {exc}; checking the defaults instead")
        else:
            wanted = cfg.platforms
            builder = builder or cfg.builder
            registry = doctor_mod.registry_of(cfg.image)
    if platforms:
        wanted = tuple(Platform.parse(p, where="--platform") for p in platforms)
    checks = doctor_mod.run_checks(platforms=wanted, builder=builder, registry=registry)
    for check in checks:
        print(check)
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        print(f"\n{len(failed)} problem(s) stop a build; see the fixes above.")
        return 1
    print("\nready to build for " + ", ".join(str(p) for p in wanted))
    return 0


def engine(action: str) -> int:
    """``up``, ``down`` or ``status`` of the provisioned engine."""
    if action == "up":
        print(provision.up())
    elif action == "down":
        print(provision.down())
    else:
        layout = provision.default_layout()
        print(f"engine: {'reachable' if provision.engine_reachable() else 'not reachable'}")
        print(
            f"registry {provision.REGISTRY_ADDRESS}: "
            f"{'answers' if provision.registry_reachable() else 'does not answer'}"
        )
        print(f"logs: {layout.logs}")
    return 0


def base_image() -> int:
    """Build (or find cached) the Debian Python base image in the loopback registry."""
    print(baseimage.ensure())
    return 0


def pin(project: Path, *, refresh: bool) -> int:
    """Pin the configured base image by digest in ``containerize.lock``."""
    cfg = config.load(project)
    ref = pins.pinned(cfg.base_image, cfg.pins_file, refresh=refresh, builder=cfg.builder)
    print(f"{ref}\n(recorded in {cfg.pins_file})")
    return 0
