"""What each ``containerize`` command does, shared by the CLI and the Nox sessions.

Each function takes plain values, calls the library, prints for a person, and returns
an exit code. Failures are raised as :class:`~containerize.errors.ContainerizeError`
for the caller (``cli.main`` or a Nox session) to report.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from containerize import config, process
from containerize.engine import buildx
from containerize.engine import doctor as doctor_mod
from containerize.errors import ConfigError
from containerize.fsutil import exclusive, write_atomic
from containerize.host import baseimage, provision
from containerize.image import dockerfile as dockerfile_mod
from containerize.image import pins
from containerize.image import pipeline as images
from containerize.image.plan import OutputKind
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


def wheelhouse(project: Path, *, platforms: Sequence[str] | None) -> int:
    """Fetch the wheelhouse for every configured platform and print a summary."""
    cfg = images.restrict(config.load(project), platforms=platforms, servers=None)
    with exclusive(cfg.build_dir):
        prepared = images.prepare(cfg, output="none", use_engine=provision.engine_reachable())
    for notice in prepared.notices:
        print(notice)
    assert prepared.wheelhouse is not None
    print(prepared.wheelhouse.summary())
    return 0


def build(
    project: Path,
    *,
    platforms: Sequence[str] | None,
    servers: Sequence[str] | None,
    builder: str | None,
    output: str,
    dry_run: bool,
    print_dockerfile: bool,
    bake: Path | None,
    refresh_base: bool,
    cache_from: Sequence[str],
    cache_to: Sequence[str],
    no_cache: bool = False,
) -> int:
    """Render, and unless told otherwise build, one image per server."""
    overrides = {"builder": builder} if builder else None
    cfg = images.restrict(
        config.load(project, overrides=overrides), platforms=platforms, servers=servers
    )
    planning_only = dry_run or print_dockerfile
    if planning_only:
        out: OutputKind = "push" if output == "push" else "load"
    else:
        images.preflight(cfg, cache_to=cache_to)
        out = images.choose_output(cfg, push=output == "push")
    prepare = functools.partial(
        images.prepare,
        cfg,
        output=out,
        refresh_base=refresh_base,
        cache_from=cache_from,
        cache_to=cache_to,
        no_cache=no_cache,
    )
    if planning_only:
        _show_plan(prepare(dry_run=True), dockerfile_only=print_dockerfile)
        return 0
    with exclusive(cfg.build_dir):
        prepared = prepare()
        if prepared.wheelhouse is not None:
            print(prepared.wheelhouse.summary())
        if bake is not None:
            write_atomic(bake, images.bake_file(prepared))
            print(f"wrote {bake}: build with 'docker buildx bake -f {bake}'")
            return 0
        summaries = images.build(prepared)
    print("\nbuilt:")
    for summary in summaries:
        sizes = ", ".join(f"{name} {_mib(size)}" for name, size in summary.sizes)
        print(f"  {summary.server}: {summary.seconds:.1f}s  {' '.join(summary.tags)}  [{sizes}]")
    return 0


def _show_plan(prepared: images.Prepared, *, dockerfile_only: bool) -> None:
    if dockerfile_only:
        print(prepared.dockerfile, end="")
        return
    for notice in prepared.notices:
        print(notice)
    print(f"# Dockerfile ({prepared.config.build_dir / 'context' / 'Dockerfile'})")
    print(prepared.dockerfile)
    print("# buildx commands")
    for inv in prepared.invocations:
        print(process.quote(buildx.argv(inv)))


def _mib(size: int | None) -> str:
    return "size unknown" if size is None else f"{size / 2**20:.1f} MiB compressed"


def dockerignore(project: Path, *, write: bool) -> int:
    """Print, or write into the project, a .dockerignore for building by hand."""
    text = dockerfile_mod.dockerignore()
    if not write:
        print(text, end="")
        return 0
    path = project / ".dockerignore"
    if path.exists():
        raise ConfigError(
            f"{path} exists; containerize does not overwrite it",
            hint="compare it with 'containerize dockerignore' and merge by hand",
        )
    write_atomic(path, text)
    print(f"wrote {path}")
    return 0
