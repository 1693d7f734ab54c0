"""The image pipeline: configuration and lock in, one image per server out.

Each step takes plain records and returns plain records, and a test can call any of
them alone:

``resolve``
    the lock (checked against pyproject.toml), the base image pinned by digest, the
    target environment per platform, and the files each platform needs;
``plan``
    the frozen :class:`~containerize.image.plan.BuildPlan` (pure);
``render``
    the Dockerfile text (pure);
``wheelhouse`` and ``context``
    the only steps that write: the hash-verified wheelhouse and the build context;
``compile``
    the sdists no wheel fits, compiled on their target platform by a build of their
    own; the wheelhouse then holds their wheels (:mod:`containerize.image.compile`);
``invocations``
    one ``docker buildx build`` per server (pure);
``build``
    runs them and reports each image's size per platform.

:func:`prepare` chains the steps up to the invocations; a dry run stops before
anything is fetched or written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from containerize import bases, syspackages
from containerize.config import Config
from containerize.engine import buildx, probes
from containerize.engine.buildx import OutputKind
from containerize.errors import EngineError, ResolutionError
from containerize.fsutil import claim
from containerize.image import compile as compile_mod
from containerize.image import context, dockerfile, pins, plan, report, revision
from containerize.platforms import Platform
from containerize.resolve import lock as lockmod
from containerize.resolve import wheelhouse as wheelhouse_mod
from containerize.resolve.fetch import Cache
from containerize.resolve.filenames import name_files
from containerize.resolve.pipconfig import IndexSettings
from containerize.targets import TargetEnvironment


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """What the lock, the base image and the targets decide, before any planning."""

    base_image: str  # pinned by digest when known
    settings: IndexSettings  # where the files come from
    targets: tuple[TargetEnvironment, ...]  # in config.platforms order
    selections: tuple[wheelhouse_mod.PlatformSelection, ...]
    notices: tuple[str, ...]
    lock_file: Path | None = None  # the project's lock the selections come from


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Everything a build needs, computed; nothing run yet."""

    config: Config
    resolved: Resolved
    plan: plan.BuildPlan
    dockerfile: str
    invocations: tuple[buildx.BuildInvocation, ...]
    wheelhouse: wheelhouse_mod.Wheelhouse | None = None
    #: The build that compiles sdists, when a platform has any (run by :func:`prepare`
    #: unless it is a dry run).
    compile: buildx.BuildInvocation | None = None
    #: What the sdists are compiled with and what their wheels need at run time, one
    #: line each (:mod:`containerize.syspackages`), for the build to print.
    system_packages: tuple[str, ...] = ()

    @property
    def notices(self) -> tuple[str, ...]:
        return self.resolved.notices

    @property
    def selections(self) -> tuple[wheelhouse_mod.PlatformSelection, ...]:
        return self.resolved.selections


def resolve(
    config: Config, *, engine: bool, record_pin: bool = True, refresh_base: bool = False
) -> Resolved:
    """Read and check the lock, pin the base image, learn the targets, select files.

    With *engine*, the base image is resolved in its registry and probed per platform;
    without, the pins file and the probe cache are used, else the configured
    ``python-version`` and ``libc``. Only with *record_pin* is a new digest written to
    the pins file.
    """
    lock = lockmod.load_locks(config.project_dir, config.locks)  # several: read as one
    lockmod.check_fresh(lock, config.project)
    settings = wheelhouse_mod.index_settings(config.project, lock)
    if lock.needs_file_names:  # a requirements file: hashes, named from the index
        # Remembered beside the downloads, so a rebuild asks the index nothing.
        lock = name_files(lock, settings, names=Cache.default().root / "names")
    base, notices = _base_image(config, engine=engine, record=record_pin, refresh=refresh_base)
    targets = tuple(_target(config, base, p, engine=engine) for p in config.platforms)
    _check_python(config, lock, targets)
    if engine:
        _check_build_platform(base, targets)
    selections = tuple(
        wheelhouse_mod.select_all(config, lock, config.project, target) for target in targets
    )
    notices += wheelhouse_mod.server_lock_notices(selections)
    notices += wheelhouse_mod.announce_sdists(selections, native=os.uname().machine)
    notices += build_needs_lines(config, selections)
    return Resolved(
        base_image=base,
        settings=settings,
        targets=targets,
        selections=selections,
        notices=tuple(notices),
        lock_file=lock.path,
    )


def build_needs_lines(
    config: Config, selections: Sequence[wheelhouse_mod.PlatformSelection]
) -> list[str]:
    """One line per sdist compiled with declared or well-known Debian packages."""
    lines = []
    for name in wheelhouse_mod.needs(selections).sdists:
        needs = syspackages.build_needs(name, config.system_packages)
        if needs.origin != "none":
            lines.append(needs.line())
    return lines


def _base_image(
    config: Config, *, engine: bool, record: bool, refresh: bool
) -> tuple[str, list[str]]:
    """The base image pinned by digest; without the engine, as far as the pins file says."""
    ref = config.base_image
    if "@" in ref:
        return ref, []
    recorded = None if refresh else pins.read(config.pins_file).get(ref)
    if recorded:
        return f"{ref}@{recorded}", []
    if engine and record:
        return pins.pinned(ref, config.pins_file, refresh=refresh, builder=config.builder), []
    if engine:
        digest = pins.resolve(ref, builder=config.builder)
        return f"{ref}@{digest}", [
            f"note: {ref} resolves to {digest}; 'containerize pin' records it in "
            f"{config.pins_file.name}"
        ]
    return ref, [
        f"note: {ref} is not pinned yet; a build with the engine pins it in {config.pins_file.name}"
    ]


def _check_python(config: Config, lock: lockmod.Lock, targets: Sequence[TargetEnvironment]) -> None:
    """The base image's Python must be one the lock (or, without one there, the project)
    allows; else an error that names the base images that would fit."""
    if lock.requires_python is not None:
        what, specifier = f"{lock.path.name} is locked for", lock.requires_python
    elif config.project.requires_python is not None:
        what, specifier = f"{config.project.path.name} requires", config.project.requires_python
    else:
        return
    for target in targets:
        version = target.markers["python_full_version"]
        if not specifier.contains(version, prereleases=True):
            raise ResolutionError(
                f"{what} Python {specifier}, but the base image {config.base_image} "
                f"has Python {version} ({target.platform})",
                hint=bases.fitting(specifier).hint(),
            )


def _check_build_platform(base: str, targets: Sequence[TargetEnvironment]) -> None:
    """The venvs are made and their bytecode compiled on this machine's platform, from
    the same base image: it must have that platform, with the targets' Python at the
    same path (the bytecode is for one minor version)."""
    native = Platform(os="linux", arch=probes.native_arch())
    found = next((t for t in targets if t.platform == native), None)
    if found is None:
        try:
            found = probes.probe_target(base, native)
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


def _target(config: Config, base: str, platform: Platform, *, engine: bool) -> TargetEnvironment:
    if engine:
        return probes.probe_target(base, platform)
    cached = probes.cached_target(base, platform)
    return cached or TargetEnvironment.from_config(platform, config.python_version, config.libc)


def make_plan(
    config: Config, resolved: Resolved, derived: plan.DerivedPackages | None = None
) -> plan.BuildPlan:
    """The build plan for *resolved* (the first platform's Python names the interpreter);
    *derived*: what the compiled wheels need at run time, once they are compiled."""
    first = resolved.targets[0]
    return plan.make_plan(
        config,
        base_image=resolved.base_image,
        python=first.interpreter,
        python_version=first.python_version,
        needs=wheelhouse_mod.needs(resolved.selections),
        revision=revision.revision(config.project_dir),
        created=revision.created(config.project_dir),
        native_arch=probes.native_arch(),
        derived=derived,
    )


def fetch_wheelhouse(
    config: Config,
    resolved: Resolved,
    compiled: Sequence[wheelhouse_mod.CompiledWheel] = (),
) -> wheelhouse_mod.Wheelhouse:
    """Fetch every selected file, hash-checked, into ``<build dir>/wheelhouse``, with
    the wheels *compiled* from its sdists."""
    claim(config.build_dir)
    return wheelhouse_mod.build(
        config,
        resolved.selections,
        settings=resolved.settings,
        cache=Cache.default(),
        compiled=compiled,
    )


def pin_build_requirements(
    config: Config, *, refresh: bool = False, engine: bool | None = None
) -> list[str]:
    """Record the sdists' build requirements in ``containerize-build.lock``; one line per
    platform that has sdists (see :func:`wheelhouse.pin_build_requirements`).

    With *engine* (by default: when one answers), the base image is probed for its
    Python; without, the probe cache or the configured ``python-version`` says.
    """
    if engine is None:
        engine = probes.engine_reachable()
    resolved = resolve(config, engine=engine, record_pin=False, refresh_base=refresh)
    return wheelhouse_mod.pin_build_requirements(
        config,
        resolved.selections,
        settings=resolved.settings,
        cache=Cache.default(),
        refresh=refresh,
    )


def record_missing_build_requirements(config: Config, resolved: Resolved) -> list[str]:
    """Record in ``containerize-build.lock`` the entries *resolved*'s platforms lack, or
    have stale, keeping every other; one line per entry recorded (none when all fit)."""
    return wheelhouse_mod.pin_build_requirements(
        config,
        resolved.selections,
        settings=resolved.settings,
        cache=Cache.default(),
        missing_only=True,
    )


def fetch_tools(config: Config, resolved: Resolved) -> None:
    """Fetch the build steps' tools, hash-checked, into ``<build dir>/tools``."""
    claim(config.build_dir)
    wheelhouse_mod.fetch_tools(config, settings=resolved.settings, cache=Cache.default())


def compile_sdists(
    config: Config,
    build_plan: plan.BuildPlan,
    resolved: Resolved,
    house: wheelhouse_mod.Wheelhouse,
    *,
    no_cache: bool = False,
) -> wheelhouse_mod.Wheelhouse:
    """The wheelhouse with a wheel for every sdist: taken from the cache of compiled
    wheels when it has one, else compiled now and remembered there."""
    if not house.pending:
        return house
    cache = Cache.default()
    system = config.system_packages
    known = compile_mod.cached(resolved.base_image, house, cache=cache, system=system)
    if known:
        house = fetch_wheelhouse(config, resolved, known)
    if not house.pending:
        return house
    compiled = compile_mod.compile_pending(
        config, build_plan, house, cache=cache, no_cache=no_cache
    )
    compile_mod.remember(resolved.base_image, house, compiled, cache=cache, system=system)
    return fetch_wheelhouse(config, resolved, (*known, *compiled))


def write_context(
    config: Config,
    build_plan: plan.BuildPlan,
    text: str,
    files: tuple[PurePosixPath, ...] | None = None,
) -> context.Context:
    """Write the build context: the Dockerfile, containerize's files, the app's files."""
    claim(config.build_dir)
    return context.assemble(
        config,
        text,
        dest=config.build_dir / "context",
        files=files,
        extra=build_plan.context_files(),
    )


def invocations(
    config: Config,
    build_plan: plan.BuildPlan,
    *,
    output: OutputKind,
    no_cache: bool = False,
) -> tuple[buildx.BuildInvocation, ...]:
    """One buildx invocation per server, reading the context and wheelhouse folders."""
    return plan.invocations(
        build_plan,
        context=config.build_dir / "context",
        wheelhouse=config.build_dir / "wheelhouse",
        tools=config.build_dir / "tools",
        output=output,
        builder=config.builder,
        cache_from=config.cache_from,
        cache_to=config.cache_to,
        metadata_dir=config.build_dir / "metadata",
        no_cache=no_cache,
    )


def prepare(
    config: Config,
    *,
    output: OutputKind,
    dry_run: bool = False,
    refresh_base: bool = False,
    no_cache: bool = False,
    record_build_requirements: Callable[[str], None] | None = None,
) -> Prepared:
    """Run the steps up to the invocations; unless *dry_run*, write wheelhouse and context.

    With *record_build_requirements*, entries ``containerize-build.lock`` lacks are
    recorded first (:func:`record_missing_build_requirements`) instead of stopping the
    build, and each line saying so is passed to it as it happens.
    """
    # Checked first, so a dry run and a real build reject the same configurations.
    files = context.app_files(config)
    resolved = resolve(config, engine=not dry_run, refresh_base=refresh_base)
    build_plan = make_plan(config, resolved)
    text = dockerfile.render(build_plan)
    house = None
    system_lines = build_needs_lines(config, resolved.selections)
    # Which platforms compile: as far as selection tells, before anything is fetched.
    sdists = tuple(s.target.platform for s in resolved.selections if s.sdists)
    compile_inv = (
        compile_mod.invocation(config, build_plan, sdists, no_cache=no_cache) if sdists else None
    )
    if not dry_run:
        if record_build_requirements is not None:
            for line in record_missing_build_requirements(config, resolved):
                record_build_requirements(line)
        house = fetch_wheelhouse(config, resolved)
        fetch_tools(config, resolved)
        house = compile_sdists(config, build_plan, resolved, house, no_cache=no_cache)
        if any(item.compiled for item in house.platforms):
            system_lines += compile_mod.check_libraries(house, config.system_packages)
            # The images install what the compiled wheels were found to need.
            build_plan = make_plan(config, resolved, compile_mod.derived_packages(house))
            text = dockerfile.render(build_plan)
        write_context(config, build_plan, text, files)
    return Prepared(
        config=config,
        resolved=resolved,
        plan=build_plan,
        dockerfile=text,
        invocations=invocations(config, build_plan, output=output, no_cache=no_cache),
        wheelhouse=house,
        compile=compile_inv,
        system_packages=tuple(system_lines),
    )


def build(invocations: Sequence[buildx.BuildInvocation]) -> list[report.TargetSummary]:
    """Run every invocation in order, streaming BuildKit's progress, and report each."""
    summaries = []
    for inv in invocations:
        start = time.monotonic()
        result = buildx.build(inv)
        summaries.append(report.summarize(result, seconds=time.monotonic() - start))
    return summaries
