"""Pins and locks: ``pin`` (the base image's digest and the sdists' build
requirements) and ``lock`` (the project's requirements, resolved with uv)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from packaging.utils import canonicalize_name

from containerize import config
from containerize import project as project_mod
from containerize.commands.machine import machine
from containerize.engine import probes
from containerize.errors import ContainerizeError, EngineError, RegistryError
from containerize.image import pins, pipeline
from containerize.resolve import buildlock
from containerize.resolve.cache import Cache


def pin(project: Path, *, refresh: bool) -> int:
    """Pin the configured base image by digest in ``containerize.lock``, and the sdists'
    build requirements by hash in ``containerize-build.lock``."""
    cfg = config.load(project)
    # The build requirements first: they need the index alone, the digest the engine.
    for line in pin_build_requirements(cfg, machine(), refresh=refresh):
        print(f"build requirements {line}")
    ref = pins.pinned(cfg.base_image, cfg.pins_file, refresh=refresh, builder=cfg.builder)
    print(f"{ref}\n(recorded in {cfg.pins_file})")
    return 0


def pin_build_requirements(
    cfg: config.Config, here: pipeline.Machine, *, refresh: bool = False
) -> list[str]:
    """:func:`pipeline.pin_build_requirements` for the base image's Python when it can be
    probed (*here* has the engine), else (with a note) for the configured
    ``python-version``."""
    try:
        return pipeline.pin_build_requirements(cfg, here, refresh=refresh)
    except (EngineError, RegistryError) as exc:
        if not here.engine:
            raise
        version = "{}.{}".format(*cfg.python_version)
        print(
            f"note: {exc.message}; the build requirements are pinned for Python {version} "
            "(python-version)"
        )
        return pipeline.pin_build_requirements(cfg, replace(here, engine=False), refresh=refresh)


def record_build_requirements(cfg: config.Config) -> None:
    """Record the build requirements of the lock's sdists (local packages' too), as
    ``containerize pin`` does, so the first build needs no other step; say what was
    recorded. ``init`` runs it when the project has a lock, ``lock`` after locking.

    It needs the package index, not the engine: a base image that cannot be probed
    (none answers, or its registry cannot be reached) leaves the Python to the table's
    ``python-version``. The base image's digest is left to the first build. A problem
    (a lock out of date, an index that does not answer) is a note: the table is
    written, and 'containerize pin', or a build outside CI, records them later.
    """
    lock_file = buildlock.path_in(cfg.project_dir)
    before = lock_file.read_bytes() if lock_file.exists() else None
    try:
        # Offline first: most projects have no sdist, and then nothing more is asked.
        offline = machine(engine=False)
        if not any(s.sdists for s in pipeline.resolve(cfg, offline).selections):
            return
        lines = pin_build_requirements(cfg, replace(offline, engine=probes.engine_reachable()))
    except ContainerizeError as exc:
        print(
            f"note: the build requirements of the lock's sdists, if it has any, are not "
            f"recorded: {exc.message}; once that is fixed, '{buildlock.REFRESH}' records "
            "them (a build outside CI does too)"
        )
        return
    for line in lines:
        print(f"build requirements {line}")
    if lock_file.exists() and lock_file.read_bytes() != before:
        print(f"recorded them in {lock_file}; commit it")


def lock(
    project: Path,
    *,
    inputs: Sequence[Path],
    python: str | None,
    upgrade: Sequence[str],
    upgrade_all: bool,
    uv: Path | None,
) -> int:
    """Resolve the project's requirements with uv into a ``pylock.toml`` and print what
    it pinned (and, on a re-lock, what changed)."""
    # Imported here: only this command resolves.
    from containerize.resolve import locking, ownlocks, wheelhouse  # noqa: PLC0415
    from containerize.resolve.locking.inputs import find_inputs, previous_lock  # noqa: PLC0415
    from containerize.resolve.locking.python import choose_python  # noqa: PLC0415
    from containerize.resolve.locking.request import LOCK_FILE, LockRequest  # noqa: PLC0415
    from containerize.resolve.locking.uv import UV, ensure_uv  # noqa: PLC0415
    from containerize.resolve.pipconfig import discover  # noqa: PLC0415

    project = project.resolve()
    pyproject = project / "pyproject.toml"
    metadata = project_mod.load(project) if pyproject.is_file() else None
    has_table = metadata is not None and "containerize" in (metadata.data or {}).get("tool", {})
    cfg = config.load(project, project=metadata) if has_table else None
    previous = previous_lock(project)
    found = find_inputs(project, inputs, project=metadata, previous=previous)
    settings = wheelhouse.index_settings(metadata) if metadata is not None else discover(project)
    tools = ownlocks.tool_lock()
    binary = uv or ensure_uv(settings, Cache.default(), tool_lock=tools)
    request = LockRequest(
        project_dir=project,
        inputs=found,
        python=choose_python(
            python,
            found,
            cfg.python_version if cfg else None,
            previous,
            metadata.requires_python if metadata else None,
        ),
        requires_python=metadata.requires_python if metadata else None,
        groups=cfg.groups if cfg else (project_mod.MAIN_GROUP,),
        extras=cfg.extras if cfg else (),
        upgrade=tuple(canonicalize_name(name) for name in upgrade),
        upgrade_all=upgrade_all,
    )
    result = locking.lock(
        request, uv=binary, settings=settings, project=metadata, previous=previous
    )
    for line in result.lines():
        print(line)
    (tested,) = tools.find(UV)
    if result.uv_version != str(tested.version):
        print(f"note: uv {result.uv_version} made this lock; containerize is tested with uv "
              f"{tested.version}, the one it runs without --uv")  # fmt: skip
    if cfg is not None and locking.point_config_at_lock(pyproject, cfg.locks):
        print(f'set lock = "{LOCK_FILE}" in [tool.containerize] of {pyproject}')
    if cfg is not None:
        # The new lock's sdists (a local package is one) need their build requirements
        # recorded before a build under CI: recorded now, as init does.
        record_build_requirements(config.load(project))
    return 0
