"""This machine: the facts a command asks of it once (its cache, its architecture,
whether the engine answers, whether it is CI), and the commands that check it, run its
engine and build the images its registry serves: ``doctor``, ``engine``, ``base-image``,
``service-image``."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from containerize import bases, config
from containerize.engine import doctor as doctor_mod
from containerize.engine import probes
from containerize.errors import ConfigError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform, parse_platforms
from containerize.resolve.cache import Cache


def machine(*, engine: bool | None = None) -> pipeline.Machine:
    """This machine, asked once: its download cache, its architecture, and whether the
    engine answers (unless the caller knows: *engine*)."""
    return pipeline.Machine(
        cache=Cache.default(),
        native_arch=probes.native_arch(),
        engine=probes.engine_reachable() if engine is None else engine,
    )


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this runs in CI (``CI`` is ``true``, ``1`` or ``yes``, as CI services set it)."""
    return environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def doctor(project: Path, *, overrides: Mapping[str, Any]) -> int:
    """Check the engine for *project*'s configuration (or the defaults without one)."""
    wanted: tuple[Platform, ...] = (LINUX_AMD64, LINUX_ARM64)
    builder = overrides.get("builder")
    registry = None
    if (project / "pyproject.toml").exists():
        try:
            cfg = config.load(project, overrides=overrides)
        except ConfigError as exc:
            print(f"note: {exc}; checking the defaults instead")
        else:
            wanted, builder = cfg.platforms, cfg.builder
            registry = doctor_mod.registry_of(cfg.image)
    if overrides.get("platforms"):
        wanted = parse_platforms(overrides["platforms"], where="--platform")
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
    """``up``, ``down`` or ``status`` of the provisioned engine; ``second`` starts a
    second engine beside it (another CI runner, through the docker context
    ``containerize-second``), which ``down`` stops first."""
    # Root-only host provisioning: imported only by the commands that use it, so a
    # project's noxfile never loads it.
    from containerize.host import provision, second  # noqa: PLC0415

    if action == "up":
        print(provision.up())
    elif action == "second":
        print(second.up())
    elif action == "down":
        print(second.down())
        print(provision.down())
    else:
        layout = provision.default_layout()
        print(f"engine: {'reachable' if probes.engine_reachable() else 'not reachable'}")
        print(
            f"registry {probes.REGISTRY_ADDRESS}: "
            f"{'answers' if probes.registry_reachable() else 'does not answer'}"
        )
        other = second.default()
        print(
            f"second engine ({second.CONTEXT}): "
            f"{'answers on ' + other.host if second.answers(other) else 'not running'}"
        )
        print(f"logs: {layout.logs}")
    return 0


def base_image(*, suite: str | None = None, python: str | None = None) -> int:
    """Build (or find cached) a Debian Python base image in the loopback registry: the
    default suite's, or the one named by *suite* or carrying *python*."""
    from containerize.host import baseimage  # noqa: PLC0415  (see engine())

    chosen = bases.choose(suite=suite, python=python)
    print(baseimage.ensure(baseimage.Recipe.for_suite(chosen)))
    return 0


def service_image(name: str, *, platforms: Sequence[str] = ()) -> int:
    """Build (or find cached) the Debian-made image of service *name* in the loopback
    registry, and print its reference for ``[tool.containerize.test.services]``."""
    from containerize.host import baseimage, serviceimage  # noqa: PLC0415  (see engine())

    chosen = parse_platforms(platforms, where="--platform") if platforms else ()
    print(baseimage.ensure(serviceimage.recipe(name, platforms=chosen)))
    return 0
