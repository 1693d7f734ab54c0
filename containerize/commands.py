"""What each ``containerize`` command does, shared by the CLI and the Nox sessions.

Each function takes plain values, calls the library, prints for a person, and returns
an exit code. Failures are raised as :class:`~containerize.errors.ContainerizeError`
for the caller (``cli.main`` or a Nox session) to report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from containerize import bases, config, process, reference, workspace
from containerize import project as project_mod
from containerize.buildfolder import BuildFolder
from containerize.engine import buildx, preflight, probes
from containerize.engine import doctor as doctor_mod
from containerize.errors import (
    ConfigError,
    ContainerizeError,
    ContainerTestError,
    EngineError,
    FetchError,
    RegistryError,
)
from containerize.fsutil import check_claimable, exclusive, write_atomic
from containerize.image import buildcache, buildkey, pins, pipeline, report, revision
from containerize.image import dockerfile as dockerfile_mod
from containerize.image.bake import bake_file
from containerize.matrix import plan as matrix_plan
from containerize.matrix import report as matrix_report
from containerize.matrix import runner
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform, parse_platforms
from containerize.registry.client import Registry
from containerize.release import plan as release_plan_mod
from containerize.release import publish
from containerize.resolve import buildlock
from containerize.resolve import lock as lockmod
from containerize.resolve.cache import Cache
from containerize.resolve.mismatch import naming_the_lock


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
    """``up``, ``down`` or ``status`` of the provisioned engine."""
    # Root-only host provisioning: imported only by the commands that use it, so a
    # project's noxfile never loads it.
    from containerize.host import provision  # noqa: PLC0415

    if action == "up":
        print(provision.up())
    elif action == "down":
        print(provision.down())
    else:
        layout = provision.default_layout()
        print(f"engine: {'reachable' if probes.engine_reachable() else 'not reachable'}")
        print(
            f"registry {probes.REGISTRY_ADDRESS}: "
            f"{'answers' if probes.registry_reachable() else 'does not answer'}"
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


def machine(*, engine: bool | None = None) -> pipeline.Machine:
    """This machine, asked once: its download cache, its architecture, and whether the
    engine answers (unless the caller knows: *engine*)."""
    return pipeline.Machine(
        cache=Cache.default(),
        native_arch=probes.native_arch(),
        engine=probes.engine_reachable() if engine is None else engine,
    )


def pin(project: Path, *, refresh: bool) -> int:
    """Pin the configured base image by digest in ``containerize.lock``, and the sdists'
    build requirements by hash in ``containerize-build.lock``."""
    cfg = config.load(project)
    # The build requirements first: they need the index alone, the digest the engine.
    for line in _pin_build_requirements(cfg, machine(), refresh=refresh):
        print(f"build requirements {line}")
    ref = pins.pinned(cfg.base_image, cfg.pins_file, refresh=refresh, builder=cfg.builder)
    print(f"{ref}\n(recorded in {cfg.pins_file})")
    return 0


def wheelhouse(project: Path, *, overrides: Mapping[str, Any]) -> int:
    """Fetch the wheelhouse for every configured platform and print a summary.

    It writes the wheelhouse only: no build context, no pin file.
    """
    cfg = config.load(project, overrides=overrides)
    here = machine()
    check_claimable(cfg.build_dir)
    with _naming_the_lock(cfg):
        # Everything is read and checked before the build folder is touched.
        resolved = pipeline.resolve(cfg, here, record_pin=False)
        with exclusive(cfg.build_dir) as leftovers:
            _report_leftovers(cfg.build_dir, leftovers, here.cache)
            house = pipeline.fetch_wheelhouse(
                BuildFolder.at(cfg.build_dir), cfg.project_dir, resolved, cache=here.cache
            )
    for notice in resolved.notices:
        print(notice)
    print(house.summary())
    return 0


def build(
    project: Path,
    *,
    overrides: Mapping[str, Any],
    push: bool,
    dry_run: bool,
    print_dockerfile: bool,
    bake: Path | None,
    refresh_base: bool,
    no_cache: bool = False,
    targets: Sequence[str] = (),
    changed_since: str | None = None,
) -> int:
    """Render, and unless told otherwise build, one image per server: of the project,
    or of each target of a repository with several (:mod:`containerize.workspace`)."""
    found = workspace.find(project)
    if not found:
        if targets or changed_since:
            raise ConfigError(
                f"{project}: one project, no targets"
                + (f" (asked for {', '.join(targets)})" if targets else ""),
                hint="targets are folders below this one with their own [tool.containerize], "
                "or [tool.containerize.targets.NAME] entries",
            )
        configs = [("", config.load(project, overrides=overrides))]
    else:
        chosen = workspace.select(found, targets)
        by_name = {t.name: workspace.load(t, overrides) for t in chosen}
        if changed_since is not None:
            picked = workspace.changed_since(chosen, by_name, changed_since, project)
            left = [t.name for t in chosen if t not in picked]
            if left:
                print(f"unchanged since {changed_since}, not built: {', '.join(left)}")
            chosen = picked
        configs = [(t.name, by_name[t.name]) for t in chosen]
    if print_dockerfile and len(configs) > 1:
        raise ConfigError(
            "--print-dockerfile prints one Dockerfile: name one target",
            hint=f"containerize build --print-dockerfile {found[0].name}",
        )
    for name, cfg in configs:
        if name:
            print(f"== {name}: {cfg.image} ({cfg.project_dir})", flush=True)
        _build_one(
            cfg,
            push=push,
            dry_run=dry_run,
            print_dockerfile=print_dockerfile,
            bake=bake,
            refresh_base=refresh_base,
            no_cache=no_cache,
        )
    return 0


def _build_one(
    cfg: config.Config,
    *,
    push: bool,
    dry_run: bool,
    print_dockerfile: bool,
    bake: Path | None,
    refresh_base: bool,
    no_cache: bool,
) -> None:
    if dry_run or print_dockerfile:
        prepared = pipeline.prepare(
            cfg,
            machine(engine=False),
            output="push" if push else "load",
            dry_run=True,
            no_cache=no_cache,
        )
        _show_plan(prepared, dockerfile_only=print_dockerfile)
        return
    check_claimable(cfg.build_dir)
    preflight.preflight(cfg.platforms, builder=cfg.builder, cache_to=_cache_exports(cfg))
    output = preflight.choose_output(cfg.platforms, push=push)
    here = machine(engine=True)  # the preflight found it
    with exclusive(cfg.build_dir) as leftovers:
        _report_leftovers(cfg.build_dir, leftovers, here.cache)
        with _naming_the_lock(cfg):
            prepared = pipeline.prepare(
                cfg,
                here,
                output=output,
                refresh_base=refresh_base,
                no_cache=no_cache,
                # In CI a build uses what is committed, or stops: it records nothing.
                record_build_requirements=None if in_ci() else _say,
                # Pushed images are compared with the registry's: the same key, no build.
                unchanged=registry_unchanged if output == "push" and not no_cache else None,
            )
        for server, digest in prepared.unchanged:
            print(f"{server}: unchanged since {digest} (the registry's image has the same key)")
        if not prepared.invocations:
            return
        if prepared.wheelhouse is not None:
            print(prepared.wheelhouse.summary())
        for line in prepared.system_packages:
            print(line)
        if bake is not None:
            write_atomic(bake, bake_file(prepared.invocations))
            print(f"wrote {bake}: build with 'docker buildx bake -f {bake}'")
            return
        summaries = pipeline.build(prepared.invocations)
    print("\nbuilt:")
    print(report.lines(summaries))


def registry_unchanged(tag: str, key: str) -> str | None:
    """The digest of the image *tag* names in its registry when its labels carry *key*;
    None when it does not exist or was built from other inputs."""
    ref = reference.parse(tag, where="image")
    found = Registry(replace(ref, tag=None, digest=None)).labels(
        ref.tag or "latest", what=f"reading the key of {tag}"
    )
    if found is None:
        return None
    digest, labels = found
    return digest if labels.get(buildkey.KEY_LABEL) == key else None


def list_targets(project: Path) -> int:
    """Print each target with its app, servers and image (the project alone when it
    has no targets)."""
    found = workspace.find(project)
    if found:
        configs = [(t.name, workspace.load(t), t.where) for t in found]
    else:
        cfg = config.load(project)
        configs = [(cfg.name, cfg, "pyproject.toml")]
    rows = [("target", "app", "servers", "image", "declared in")]
    for name, cfg, where in configs:
        rows.append((name, str(cfg.app), ", ".join(cfg.servers), cfg.image, where))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this runs in CI (``CI`` is ``true``, ``1`` or ``yes``, as CI services set it)."""
    return environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _say(line: str) -> None:
    print(line, flush=True)


def test(
    project: Path,
    *,
    servers: Sequence[str],
    platforms: Sequence[str],
    images: Sequence[str],
    jobs: int | None,
) -> int:
    """Run the test matrix and print its table; non-zero when any cell fails."""
    cfg = config.load(project)
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs {jobs}: run at least one cell at a time", hint="e.g. --jobs 2")
    chosen = parse_platforms(platforms, where="--platform") if platforms else ()
    plan = matrix_plan.plan_matrix(
        cfg,
        servers_=servers,
        platforms=chosen,
        images=matrix_plan.parse_images(images, servers_=servers or cfg.servers),
        native_arch=probes.native_arch(),
    )
    preflight.require_daemon()
    failed = _run_matrix(cfg, plan, jobs=jobs)
    return ContainerTestError.exit_code if failed else 0


def _run_matrix(cfg: config.Config, plan: matrix_plan.MatrixPlan, *, jobs: int | None) -> list[str]:
    """Run *plan*'s cells, print the table and the failures, keep the reports; the
    names of the cells that failed."""
    print(f"testing {len(plan.cells)} cell(s): " + ", ".join(c.name for c in plan.cells))

    def finished(result: matrix_report.CellResult) -> None:
        state = "passed" if result.passed else "FAILED"
        print(f"  {result.name}: {state} in {result.seconds:.0f}s", flush=True)

    results = runner.run_matrix(plan, project_dir=cfg.project_dir, jobs=jobs, on_result=finished)
    written = matrix_report.record(cfg.build_dir, results, plan.all_cells)
    print()
    print(matrix_report.table(results))
    details = matrix_report.failures(results)
    if details:
        print("\n" + details)
    print(f"\nreport: {written.markdown}\nJUnit XML: {written.junit}")
    if written.missing:
        print(f"(cells without a result yet: {', '.join(written.missing)})")
    failed = [r.name for r in results if not r.passed]
    if failed:
        print(f"\n{len(failed)} of {len(results)} cell(s) failed: {', '.join(failed)}")
    return failed


def matrix_on_digests(cfg: config.Config) -> publish.TestHook:
    """The release's test step: the matrix, run on the digests just pushed (pulled back
    from the registry), every server and platform being released."""

    def test_digests(images: Mapping[str, str]) -> None:
        plan = matrix_plan.plan_matrix(
            cfg, servers_=tuple(images), images=images, native_arch=probes.native_arch()
        )
        failed = _run_matrix(cfg, plan, jobs=None)
        if failed:
            raise ContainerTestError(
                f"the test matrix failed on the pushed digests: {', '.join(failed)}",
                hint="see the failures above and the report; fix and release again (the "
                "digests stay in the registry untagged)",
            )

    return test_digests


def release(
    project: Path,
    *,
    overrides: Mapping[str, Any],
    dry_run: bool,
    force: bool,
    provenance: bool,
    sign_key: str | None,
    no_cache: bool = False,
    skip_tests: bool = False,
    test_images: publish.TestHook | None = None,
) -> int:
    """Build, push by digest, test and tag one multi-platform image per server.

    *test_images* is the test step: called with ``{server: "repo@sha256:..."}`` once
    the images are pushed, it raises to stop the release before any tag moves. By
    default it is the test matrix on those digests; *skip_tests* releases untested.
    """
    cfg = config.load(project, overrides=overrides)
    if test_images is None and not skip_tests:
        test_images = matrix_on_digests(cfg)
    release_plan = release_plan_mod.plan_release(
        cfg,
        revision=revision.revision(cfg.project_dir),
        dirty=revision.dirty(cfg.project_dir, ignore=[cfg.build_dir]),
        force=force,
        provenance=provenance,
        sign_key=sign_key,
    )
    if dry_run:
        print(release_plan_mod.describe(release_plan, tested=test_images is not None), end="")
        return 0
    preflight.preflight(cfg.platforms, builder=cfg.builder, cache_to=_cache_exports(cfg))
    target = publish.connect(release_plan)
    here = machine(engine=True)  # the preflight found it
    with exclusive(cfg.build_dir) as leftovers:
        _report_leftovers(cfg.build_dir, leftovers, here.cache)
        with _naming_the_lock(cfg):
            prepared = pipeline.prepare(cfg, here, output="none", no_cache=no_cache)
        if prepared.wheelhouse is not None:
            print(prepared.wheelhouse.summary())
        result = publish.release(prepared, release_plan, test=test_images, target=target)
    print(result.summary())
    return 0


def _cache_exports(cfg: config.Config) -> tuple[str, ...]:
    """Every cache export the builds of *cfg* would ask for (servers, then compile)."""
    return buildcache.settings(cfg).exports((*cfg.servers, buildcache.COMPILE))


def _report_leftovers(build_dir: Path, removed: Sequence[str], cache: Cache) -> None:
    """Remove the partial downloads of killed runs too, and say in one line what went."""
    downloads = cache.remove_leftovers()
    parts = []
    if removed:
        parts.append(f"{', '.join(removed)} in {build_dir}")
    if downloads:
        parts.append(f"{len(downloads)} partial download(s) in {cache.partial_folder}")
    if parts:
        print(
            "containerize: removed what an interrupted run left behind: " + "; ".join(parts),
            file=sys.stderr,
        )


@contextmanager
def _naming_the_lock(cfg: config.Config) -> Iterator[None]:
    """Hash mismatches name the lock file and its re-lock command (the fetch knows
    neither)."""
    try:
        yield
    except FetchError as exc:
        try:
            lock = lockmod.load_locks(cfg.project_dir, cfg.locks)
        except ContainerizeError:
            raise exc from None
        named = naming_the_lock(exc, str(lock.path), lock.relock_command)
        if named is exc:
            raise
        raise named from None


def _show_plan(prepared: pipeline.Prepared, *, dockerfile_only: bool) -> None:
    if dockerfile_only:
        print(prepared.dockerfile, end="")
        return
    for notice in prepared.notices:
        print(notice)
    print(f"# Dockerfile ({prepared.folder.dockerfile})")
    print(prepared.dockerfile)
    print("# buildx commands")
    if prepared.compile is not None:
        print(f"# first, {dockerfile_mod.COMPILE_NOTE}")
        print(process.quote(buildx.argv(prepared.compile)))
    for inv in prepared.invocations:
        print(process.quote(buildx.argv(inv)))


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
        lines = _pin_build_requirements(cfg, replace(offline, engine=probes.engine_reachable()))
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


def _pin_build_requirements(
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
    return 0
