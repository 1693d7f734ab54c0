"""What each ``containerize`` command does, shared by the CLI and the Nox sessions.

Each function takes plain values, calls the library, prints for a person, and returns
an exit code. Failures are raised as :class:`~containerize.errors.ContainerizeError`
for the caller (``cli.main`` or a Nox session) to report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from containerize import baseimage, buildx, config, images, pins, process, provision
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


def wheelhouse(project: Path, *, platforms: Sequence[str] | None) -> int:
    """Fetch the wheelhouse for every configured platform and print a summary."""
    cfg = images.restrict(config.load(project), platforms=platforms, servers=None)
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
) -> int:
    """Render, and unless told otherwise build, one image per server."""
    overrides = {"builder": builder} if builder else None
    cfg = images.restrict(
        config.load(project, overrides=overrides), platforms=platforms, servers=servers
    )
    planning_only = dry_run or print_dockerfile
    if planning_only:
        out: images.Output = "push" if output == "push" else "load"
    else:
        images.preflight(cfg)
        out = images.choose_output(cfg, push=output == "push")
    prepared = images.prepare(
        cfg,
        output=out,
        dry_run=planning_only,
        refresh_base=refresh_base,
        cache_from=cache_from,
        cache_to=cache_to,
    )
    if print_dockerfile:
        print(prepared.dockerfile, end="")
        return 0
    for notice in prepared.notices:
        print(notice)
    if dry_run:
        print(f"# Dockerfile ({cfg.build_dir / 'context' / 'Dockerfile'})")
        print(prepared.dockerfile)
        print("# buildx commands")
        for inv in prepared.invocations:
            print(process.quote(buildx.argv(inv)))
        return 0
    if prepared.wheelhouse is not None:
        print(prepared.wheelhouse.summary())
    if bake is not None:
        _write_atomic(bake, images.bake_file(prepared))
        print(f"wrote {bake}: build with 'docker buildx bake -f {bake}'")
        return 0
    summaries = images.build(prepared)
    print("\nbuilt:")
    for summary in summaries:
        sizes = ", ".join(f"{name} {_mib(size)}" for name, size in summary.sizes)
        print(f"  {summary.server}: {summary.seconds:.1f}s  {' '.join(summary.tags)}  [{sizes}]")
    return 0


def _mib(size: int | None) -> str:
    return "size after push" if size is None else f"{size / 2**20:.1f} MiB"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
