"""Setting a project up: ``init`` (its ``[tool.containerize]`` table, then the build
requirements it can pin) and ``dockerignore``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from containerize import config
from containerize import project as project_mod
from containerize.commands.guards import naming_the_lock, report_leftovers, say
from containerize.commands.locking import record_build_requirements
from containerize.commands.machine import in_ci, machine
from containerize.engine import buildx, probes
from containerize.errors import BuildError, ConfigError, ContainerizeError
from containerize.fsutil import check_claimable, exclusive, write_atomic
from containerize.image import dockerfile as dockerfile_mod
from containerize.image import pipeline
from containerize.init import verify

if TYPE_CHECKING:
    from containerize.init.detect import Detection
    from containerize.init.model import Choice


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
        verdict = verify.not_verified("a dry run builds nothing")
        edit = table.render(text, _with_verdict(found.choices, verdict), path=path)
        print(f"\n{edit.table}", end="")
        print(f"(dry run: {path} is {'unchanged' if exists else 'not created'})")
        return 0
    # The build's view of the new table (with this environment's CONTAINERIZE_*), for
    # the pin and the import check; the file is written once, with the verdict.
    cfg = config.load(project, project=project_mod.parse_project(edit.text, path))
    if not found.next_steps:  # with no lock yet, there is nothing to pin
        record_build_requirements(cfg)
    verdict = _verify(cfg, found, engine=engine)
    for line in verdict.lines:
        print(line, flush=True)
    edit = table.render(text, _with_verdict(found.choices, verdict), path=path)
    table.check(project, edit, path=path)
    table.write(path, edit.text)
    if edit.dropped:
        print(f"replaced the old table, whose {', '.join(edit.dropped)} are gone")
    if exists:
        print(f"wrote [tool.containerize] in {path}")
    else:
        print(f"created {path} with [tool.containerize] only")
    steps = (
        *found.next_steps,
        *([found.base_step] if found.base_step else []),
        *found.service_steps,
    )
    for step in (*steps, "containerize build --dry-run"):
        print(f"next: '{step}'")
    return 0


def _with_verdict(choices: Sequence[Choice], verdict: verify.Verdict) -> list[Choice]:
    """*choices* with the verdict written above ``app``."""
    return [replace(c, comment=verdict.comment) if c.key == "app" else c for c in choices]


def _verify(cfg: config.Config, found: Detection, *, engine: bool) -> verify.Verdict:
    """Import the app once in the build's check stage, when an engine answers and
    the build has what it needs (a lock, the base image); else say why not."""
    reason = verify.cannot_check(
        engine=engine,
        lock_step=found.next_steps[0] if found.next_steps else None,
        base_step=found.base_step,
        import_check=cfg.import_check,
    )
    if reason is not None:
        return verify.not_verified(reason)
    here = machine(engine=True)
    check = verify.check_for(cfg, here.native_arch)
    print(f"checking that {cfg.app} imports: {check.described()} ...", flush=True)
    try:
        check_claimable(cfg.build_dir)
        with exclusive(cfg.build_dir) as leftovers:
            report_leftovers(cfg.build_dir, leftovers, here.cache)
            with naming_the_lock(cfg):
                prepared = pipeline.prepare(
                    check.config,
                    here,
                    output="none",
                    record_build_requirements=None if in_ci() else say,
                )
            for inv in prepared.invocations:
                buildx.build(verify.invocation(check, inv))
    except BuildError as exc:
        if verify.is_import_failure(check, exc):
            return verify.import_failed(check, str(cfg.app), exc, others=found.alternatives)
        return verify.not_verified(f"the check build failed before the import: {exc.message}")
    except ContainerizeError as exc:
        return verify.not_verified(f"the check build stopped: {exc.message}")
    return verify.verified(check, str(cfg.app))


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
