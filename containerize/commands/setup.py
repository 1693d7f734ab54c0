"""Setting a project up: ``init`` (its ``[tool.containerize]`` table, then the build
requirements it can pin) and ``dockerignore``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from containerize import config
from containerize import project as project_mod
from containerize.commands.locking import pin_build_requirements
from containerize.commands.machine import machine
from containerize.engine import buildx, probes
from containerize.errors import ConfigError, ContainerizeError
from containerize.fsutil import write_atomic
from containerize.image import dockerfile as dockerfile_mod
from containerize.image import pipeline
from containerize.resolve import buildlock


def init(
    project: Path,
    *,
    force: bool,
    dry_run: bool,
    app: str | None,
    lock: str | Sequence[str] | None,
    app_directory: str | None = None,
) -> int:
    """Detect the app, the lock and the Python; write ``[tool.containerize]`` (or, with
    *dry_run*, print it). Without a ``pyproject.toml``, one holding only the table is
    created."""
    # Imported here: only this command reads the user's sources.
    from containerize.init import detect, table  # noqa: PLC0415

    project = project.resolve()
    if not project.is_dir():
        raise ConfigError(
            f"{project} is not a folder",
            hint="pass --project the project's folder, or run containerize from it",
        )
    path = project / "pyproject.toml"
    exists = path.exists()
    text = project_mod.read_text(path) if exists else ""
    metadata = project_mod.parse_project(text, path)
    if table.existing(metadata.data or {}) is not None and not force:
        if not dry_run:
            raise ConfigError(
                f"{path} already has a [tool.containerize] table; init leaves it alone",
                hint="'containerize init --dry-run' shows what init would write; "
                "'containerize init --force' replaces the table",
            )
        print("note: pyproject.toml already has [tool.containerize]: writing needs --force")
    # Whether the engine answers is asked once, here: it checks the base image proposed.
    engine = probes.engine_reachable()
    found = detect.detect(
        metadata,
        project,
        app=app,
        app_directory=app_directory,
        lock=lock,
        resolves=(lambda ref: buildx.imagetools_inspect(ref) is not None) if engine else None,
    )
    edit = table.render(text, found.choices, path=path)
    table.check(project, edit, path=path)
    for choice in found.choices:
        print(f"{choice.key} = {table.value_text(choice.value)}  # {choice.reason()}")
    for note in found.notes:
        print(f"note: {note}")
    if dry_run:
        print(f"\n{edit.table}", end="")
        print(f"(dry run: {path} is {'unchanged' if exists else 'not created'})")
        return 0
    table.write(path, edit.text)
    if edit.dropped:
        print(f"replaced the old table, whose {', '.join(edit.dropped)} are gone")
    if exists:
        print(f"wrote [tool.containerize] in {path}")
    else:
        print(f"created {path} with [tool.containerize] only")
    if not found.next_steps:  # with no lock yet, there is nothing to pin
        _pin_after_init(project)
    steps = (*found.next_steps, *([found.base_step] if found.base_step else []))
    for step in (*steps, "containerize build --dry-run"):
        print(f"next: '{step}'")
    return 0


def _pin_after_init(project: Path) -> None:
    """Record the build requirements of the lock's sdists, as ``containerize pin`` does,
    so the first build needs no other step; say what was recorded.

    It needs the package index, not the engine: a base image that cannot be probed
    (none answers, or its registry cannot be reached) leaves the Python to the table's
    ``python-version``. The base image's digest is left to the first build. A problem
    (a lock out of date, an index that does not answer) is a note: the table is
    written, and 'containerize pin', or a build outside CI, records them later.
    """
    cfg = config.load(project)
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
