"""The image pipeline: configuration and lock in, one image per server out.

Each step takes plain records and returns plain records, and a test can call any of
them alone. :func:`resolve` chains the first ones:

``read the lock``
    :func:`containerize.resolve.lock.load_locks`, then
    :func:`~containerize.resolve.lock.check_fresh` against ``pyproject.toml`` (a
    workspace member's view of its workspace's lock,
    :func:`~containerize.resolve.lock.for_project`);
``name the files``
    a requirements file's hashes named from the index
    (:func:`containerize.resolve.filenames.name_files`); then the local packages (the
    project itself, workspace members, path dependencies) packed as source archives
    (:func:`containerize.resolve.localpkgs.pack`), compiled like any sdist;
``pin the base``
    the base image pinned by digest (:func:`containerize.image.pins.pin_base`);
``learn the targets``
    the target environment of each platform, probed, cached, or configured
    (:func:`containerize.engine.probes.learn_targets`);
``check the Python``
    the base image's Python fits the lock
    (:func:`containerize.resolve.selection.check_base_python`), and this machine can make
    the venvs (:func:`containerize.engine.probes.check_build_platform`);
``select``
    the files each platform needs (:func:`containerize.resolve.wheelhouse.select_all`),
    from what the configuration wants (:func:`wanted`, decided first);
``notices``
    what a person should know before anything is fetched
    (:func:`containerize.resolve.wheelhouse.notices`).

Each step gets plain records and goes down into its own room; none calls back up.

Then :func:`prepare` goes on:

:func:`make_plan`
    the frozen :class:`~containerize.image.plan.BuildPlan` (pure);
:func:`fetch_wheelhouse`, :func:`fetch_tools` and :func:`compile_sdists`
    the hash-verified wheelhouse, with a wheel for every sdist, compiled on its target
    platform by a build of its own (:mod:`containerize.image.compile`); the plan then
    gets what those wheels need at run time (:func:`~containerize.image.plan.with_derived`);
``render`` and :func:`write_context`
    the Dockerfile text, rendered once from the final plan, and the build context;
:func:`invocations`
    one ``docker buildx build`` per server (pure);
:func:`build`
    runs them and reports each image's size per platform.

A dry run stops before anything is fetched or written. What comes from the machine
(the download cache, its architecture, whether the engine answers) is asked once where
a command starts, and comes in as a :class:`Machine`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from containerize import reference, servers
from containerize.buildfolder import BuildFolder
from containerize.config import Config
from containerize.engine import basepull, buildx, probes
from containerize.engine.buildx import OutputKind
from containerize.fsutil import claim
from containerize.image import (
    buildcache,
    buildkey,
    context,
    dockerfile,
    layerfolders,
    lockhistory,
    pins,
    plan,
    report,
    revision,
)
from containerize.image import compile as compile_mod
from containerize.image.buildkey import Unchanged
from containerize.image.layergroups import LockHistory
from containerize.reference import ImageReference
from containerize.resolve import buildenv, filenames, localpkgs, selection
from containerize.resolve import lock as lockmod
from containerize.resolve import wheelhouse as wheelhouse_mod
from containerize.resolve.cache import Cache
from containerize.resolve.pipconfig import IndexSettings
from containerize.resolve.selection import PlatformSelection
from containerize.resolve.sharing import SharedCache
from containerize.syspackages import SystemPackages
from containerize.targets import TargetEnvironment


@dataclass(frozen=True, kw_only=True)
class Machine:
    """What the machine that builds answers, asked once where a command starts."""

    cache: Cache  # the download cache (and the caches beside it)
    native_arch: str  # this machine's OCI architecture: where the venvs are made
    engine: bool  # whether to ask the engine: pin the base image, probe its Python


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """What the lock, the base image and the targets decide, before any planning."""

    base: ImageReference  # pinned by digest when known (parsed where it is pinned)
    settings: IndexSettings  # where the files come from
    targets: tuple[TargetEnvironment, ...]  # in config.platforms order
    selections: tuple[PlatformSelection, ...]
    needs: wheelhouse_mod.Needs  # what the selections install, by name, once
    #: What the lock, the pin and the selection have to say
    #: (see :func:`~containerize.resolve.wheelhouse.notices`).
    notes: tuple[str, ...]
    #: One line per sdist compiled with declared or well-known Debian packages.
    build_needs: tuple[str, ...] = ()
    lock_file: Path | None = None  # the project's lock the selections come from
    lock_history: LockHistory | None = None  # what moved together in it, from git

    @property
    def base_image(self) -> str:
        """The base image's reference as written (``name:tag@sha256:...`` when pinned)."""
        return str(self.base)

    @property
    def notices(self) -> tuple[str, ...]:
        """Everything to say before the build, in order."""
        return (*self.notes, *self.build_needs)


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Everything a build needs, computed; nothing run yet."""

    config: Config
    folder: BuildFolder
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
    #: Each server's image key (:mod:`containerize.image.buildkey`), in its labels.
    keys: Mapping[str, str] = field(default_factory=dict)
    #: ``(server, digest)`` of the images left out: the registry has them, same key.
    unchanged: tuple[tuple[str, str], ...] = ()

    @property
    def notices(self) -> tuple[str, ...]:
        return self.resolved.notices

    @property
    def selections(self) -> tuple[PlatformSelection, ...]:
        return self.resolved.selections


def resolve(
    config: Config, machine: Machine, *, record_pin: bool = True, refresh_base: bool = False
) -> Resolved:
    """Read and check the lock, pin the base image, learn the targets, select files.

    With the engine (*machine*), the base image is resolved in its registry and probed
    per platform; without, the pins file and the probe cache are used, else the
    configured ``python-version`` and ``libc``. Only with *record_pin* is a new digest
    written to the pins file.
    """
    want = wanted(config)
    lock = lockmod.load_locks(config.project_dir, config.locks)  # several: read as one
    lock = lockmod.for_project(lock, config.project_dir)  # a workspace member's view
    lockmod.check_fresh(lock, config.project)
    settings = wheelhouse_mod.index_settings(config.project, lock)
    # A requirements file has hashes only: the names come from the index, remembered
    # beside the downloads so a rebuild asks nothing.
    lock = filenames.name_files(lock, settings, names=machine.cache.root / "names")
    lock = localpkgs.pack(lock, machine.cache)
    # What moved together in the lock's git history: read with the lock, from its path.
    history = lockhistory.read(lock.path, cache=machine.cache.root / "lock-history")
    base = pins.pin_base(
        config.base_image,
        pins_file=config.pins_file,
        builder=config.builder,
        engine=machine.engine,
        record=record_pin,
        refresh=refresh_base,
    )
    shared = SharedCache.beside(config.image, machine.cache) if config.share == "registry" else None
    if shared is not None and machine.engine:  # no container run to learn what is shared
        shared.pull_probes(base.image, config.platforms, native_arch=machine.native_arch)
    targets = probes.learn_targets(
        base.image,
        config.platforms,
        engine=machine.engine,
        python_version=config.python_version,
        libc=config.libc,
    )
    selection.check_base_python(lock, config.project, config.base_image, targets)
    if machine.engine:
        probes.check_build_platform(base.image, targets, machine.native_arch)
    if shared is not None and machine.engine:
        shared.push_probes(base.image, config.platforms, native_arch=machine.native_arch)
    selections = tuple(
        wheelhouse_mod.select_all(want, lock, config.project, target) for target in targets
    )
    needs = wheelhouse_mod.needs(selections)
    build_needs = wheelhouse_mod.build_needs_lines(config.system_packages, needs.sdists)
    return Resolved(
        # Parsed once, here: the plan, its labels and the Dockerfile get the record.
        base=reference.parse(base.image, where="base image"),
        settings=settings,
        targets=targets,
        selections=selections,
        notes=(
            *base.notices,
            *wheelhouse_mod.notices(selections, native_arch=machine.native_arch),
            *servers.recycling_notices(
                config.servers, config.max_requests, config.max_requests_jitter
            ),
            *servers.preload_notices(config.servers, config.preload),
        ),
        needs=needs,
        build_needs=build_needs,
        lock_file=lock.path,
        lock_history=history,
    )


def wanted(config: Config) -> wheelhouse_mod.Wanted:
    """What the images install from the lock, as the configuration says."""
    static_files = config.static is not None
    return wheelhouse_mod.Wanted(
        groups=config.groups,
        extras=config.extras,
        servers=tuple(
            (name, servers.roots(name, static_files=static_files)) for name in config.servers
        ),
    )


def make_plan(
    config: Config, resolved: Resolved, stamp: revision.Stamp, *, native_arch: str
) -> plan.BuildPlan:
    """The build plan for *resolved* (the first platform's Python names the interpreter),
    before the sdists are compiled (:func:`~containerize.image.plan.with_derived` adds
    what their wheels need at run time)."""
    first = resolved.targets[0]
    return plan.make_plan(
        config,
        base=resolved.base,
        python=first.interpreter,
        python_version=first.python_version,
        needs=resolved.needs,
        revision=stamp.revision,
        created=stamp.created,
        native_arch=native_arch,
        selections=resolved.selections,
        history=resolved.lock_history,
    )


def fetch_wheelhouse(
    folder: BuildFolder,
    project_dir: Path,
    resolved: Resolved,
    *,
    cache: Cache,
    compiled: Sequence[wheelhouse_mod.CompiledWheel] = (),
    shared: SharedCache | None = None,
) -> wheelhouse_mod.Wheelhouse:
    """Fetch every selected file, hash-checked, into the build folder's wheelhouse,
    with the wheels *compiled* from its sdists (the *shared* cache first, if given)."""
    claim(folder.root)
    return wheelhouse_mod.build(
        resolved.selections,
        dest=folder.wheelhouse,
        project_dir=project_dir,
        settings=resolved.settings,
        cache=cache,
        compiled=compiled,
        shared=shared,
    )


def pin_build_requirements(config: Config, machine: Machine, *, refresh: bool = False) -> list[str]:
    """Record the sdists' build requirements in ``containerize-build.lock``; one line per
    platform that has sdists (see :func:`~containerize.resolve.buildenv.pin_build_requirements`).

    With the engine (*machine*), the base image is probed for its Python; without, the
    probe cache or the configured ``python-version`` says.
    """
    resolved = resolve(config, machine, record_pin=False, refresh_base=refresh)
    return buildenv.pin_build_requirements(
        config.project_dir,
        resolved.selections,
        settings=resolved.settings,
        cache=machine.cache,
        refresh=refresh,
    )


def record_missing_build_requirements(
    project_dir: Path, resolved: Resolved, *, cache: Cache, shared: SharedCache | None = None
) -> list[str]:
    """Record in ``containerize-build.lock`` the entries *resolved*'s platforms lack, or
    have stale, keeping every other; one line per entry recorded (none when all fit)."""
    return buildenv.pin_build_requirements(
        project_dir,
        resolved.selections,
        settings=resolved.settings,
        cache=cache,
        missing_only=True,
        shared=shared,
    )


def fetch_tools(
    folder: BuildFolder, resolved: Resolved, *, cache: Cache, shared: SharedCache | None = None
) -> None:
    """Fetch the build steps' tools, hash-checked, into the build folder's tools."""
    claim(folder.root)
    wheelhouse_mod.fetch_tools(folder.tools, settings=resolved.settings, cache=cache, shared=shared)


def compile_sdists(
    folder: BuildFolder,
    project_dir: Path,
    build_plan: plan.BuildPlan,
    resolved: Resolved,
    house: wheelhouse_mod.Wheelhouse,
    *,
    cache: Cache,
    system: SystemPackages,
    builder: str | None,
    no_cache: bool = False,
    build_cache: buildcache.CacheSettings = buildcache.NONE,
    shared: SharedCache | None = None,
) -> wheelhouse_mod.Wheelhouse:
    """The wheelhouse with a wheel for every sdist: taken from the cache of compiled
    wheels when it has one (pulled from the *shared* cache first, when given), else
    compiled now, remembered there, and pushed to the *shared* cache."""
    if not house.pending:
        return house
    if shared is not None:
        compile_mod.pull_shared(
            resolved.base_image, house, cache=cache, shared=shared, system=system
        )
    pending = house
    known = compile_mod.cached(resolved.base_image, house, cache=cache, system=system)
    compiled: tuple[wheelhouse_mod.CompiledWheel, ...] = ()
    if known:
        house = fetch_wheelhouse(folder, project_dir, resolved, cache=cache, compiled=known)
    if house.pending:
        compiled = compile_mod.compile_pending(
            folder,
            build_plan,
            house,
            cache=cache,
            builder=builder,
            no_cache=no_cache,
            build_cache=build_cache,
        )
        compile_mod.remember(resolved.base_image, house, compiled, cache=cache, system=system)
    if shared is not None:
        # What this machine compiled before sharing was on is shared too.
        compile_mod.push_shared(
            resolved.base_image,
            pending,
            (*known, *compiled),
            cache=cache,
            shared=shared,
            system=system,
        )
    if not compiled:
        return house
    return fetch_wheelhouse(
        folder, project_dir, resolved, cache=cache, compiled=(*known, *compiled)
    )


def write_context(
    folder: BuildFolder,
    build_plan: plan.BuildPlan,
    text: str,
    *,
    app_root: Path,
    files: tuple[PurePosixPath, ...],
) -> context.Context:
    """Write the build context: the Dockerfile, containerize's files, the app's *files*."""
    claim(folder.root)
    return context.assemble(
        text, app_root=app_root, files=files, dest=folder.context, extra=build_plan.context_files()
    )


def invocations(
    folder: BuildFolder,
    build_plan: plan.BuildPlan,
    *,
    output: OutputKind,
    builder: str | None,
    build_cache: buildcache.CacheSettings = buildcache.NONE,
    no_cache: bool = False,
) -> tuple[buildx.BuildInvocation, ...]:
    """One buildx invocation per server, reading the context and wheelhouse folders."""
    return plan.invocations(
        build_plan,
        context=folder.context,
        wheelhouse=folder.wheelhouse,
        tools=folder.tools,
        output=output,
        builder=builder,
        build_cache=build_cache,
        metadata_dir=folder.metadata,
        no_cache=no_cache,
    )


def prepare(
    config: Config,
    machine: Machine,
    *,
    output: OutputKind,
    dry_run: bool = False,
    refresh_base: bool = False,
    no_cache: bool = False,
    record_build_requirements: Callable[[str], None] | None = None,
    unchanged: Unchanged | None = None,
) -> Prepared:
    """Run the steps up to the invocations; unless *dry_run*, write wheelhouse and context.

    With *unchanged*, a server whose image the registry already holds with the same key
    is left out (:attr:`Prepared.unchanged`); when every one is, nothing is fetched or
    compiled either.

    A dry run asks the engine nothing, whatever *machine* says. With
    *record_build_requirements*, entries ``containerize-build.lock`` lacks are recorded
    first (:func:`record_missing_build_requirements`) instead of stopping the build, and
    each line saying so is passed to it as it happens.
    """
    if dry_run:
        machine = Machine(cache=machine.cache, native_arch=machine.native_arch, engine=False)
    # Checked first, so a dry run and a real build reject the same configurations.
    files = context.app_files(config)
    app = buildkey.app_digest(config.app_root, files)
    stamp = revision.stamp(config.project_dir)
    build_cache = buildcache.settings(config)
    resolved = resolve(config, machine, refresh_base=refresh_base)
    folder = BuildFolder.at(config.build_dir)
    build_plan = make_plan(config, resolved, stamp, native_arch=machine.native_arch)
    keys = buildkey.image_keys(
        build_plan, base_image=resolved.base_image, selections=resolved.selections, app=app
    )
    skipped = (
        buildkey.unchanged_images(build_plan, keys, unchanged) if unchanged is not None else ()
    )
    # Which platforms compile: as far as selection tells, before anything is fetched.
    sdists = tuple(s.target.platform for s in resolved.selections if s.sdists)
    compile_inv = (
        compile_mod.invocation(
            folder,
            build_plan,
            sdists,
            builder=config.builder,
            no_cache=no_cache,
            build_cache=build_cache,
        )
        if sdists
        else None
    )
    # Every image in the registry already, built from the same inputs: nothing is
    # fetched, compiled or built.
    everything_built = bool(skipped) and len(skipped) == len(build_plan.servers)
    house = None
    system_lines = resolved.build_needs
    if not dry_run and not everything_built:
        # An empty engine pulls the base image beside the fetch; buildx.build waits for it.
        basepull.start(resolved.base_image, config.platforms, builder=config.builder)
        shared = (
            SharedCache.beside(config.image, machine.cache) if config.share == "registry" else None
        )
        if record_build_requirements is not None:
            for line in record_missing_build_requirements(
                config.project_dir, resolved, cache=machine.cache, shared=shared
            ):
                record_build_requirements(line)
        house = fetch_wheelhouse(
            folder, config.project_dir, resolved, cache=machine.cache, shared=shared
        )
        fetch_tools(folder, resolved, cache=machine.cache, shared=shared)
        house = compile_sdists(
            folder,
            config.project_dir,
            build_plan,
            resolved,
            house,
            cache=machine.cache,
            system=config.system_packages,
            builder=config.builder,
            no_cache=no_cache,
            build_cache=build_cache,
            shared=shared,
        )
        if any(item.compiled for item in house.platforms):
            system_lines += tuple(compile_mod.check_libraries(house, config.system_packages))
            # The images install what the compiled wheels were found to need.
            build_plan = plan.with_derived(
                build_plan, compile_mod.derived_packages(house), config.system_packages
            )
        # The dependency layers again, with every file's size (the lock may not say).
        sizes = {f.sha256: f.path.stat().st_size for p in house.platforms for f in p.report.files}
        build_plan = plan.with_sizes(build_plan, resolved.selections, sizes)
    text = dockerfile.render(build_plan)
    if not dry_run and not everything_built:
        assert house is not None
        layerfolders.write(build_plan, (item.folder for item in house.platforms))
        write_context(folder, build_plan, text, app_root=config.app_root, files=files)
    left_out = {server for server, _ in skipped}
    return Prepared(
        config=config,
        folder=folder,
        resolved=resolved,
        plan=build_plan,
        dockerfile=text,
        invocations=tuple(
            replace(inv, labels=(*inv.labels, (buildkey.KEY_LABEL, keys[inv.target or ""])))
            for inv in invocations(
                folder,
                build_plan,
                output=output,
                builder=config.builder,
                build_cache=build_cache,
                no_cache=no_cache,
            )
            if inv.target not in left_out
        ),
        wheelhouse=house,
        compile=compile_inv if not everything_built else None,
        system_packages=system_lines if not everything_built else (),
        keys=keys,
        unchanged=skipped,
    )


#: Asked with a pushed image (``name:tag@sha256:...``, or ``name:tag`` when buildx
#: reported no digest) and further tags of its repository: names the image under each
#: of them in its registry.
Retag = Callable[[str, Sequence[str]], None]


def build(
    invocations: Sequence[buildx.BuildInvocation], *, retag: Retag | None = None
) -> list[report.TargetSummary]:
    """Run every invocation in order, streaming BuildKit's progress, and report each.

    With *retag*, an image that is pushed under several tags is pushed once, under its
    first tag, and *retag* names it under the others: the docker driver would push it
    again for every further tag (issue 26).
    """
    summaries = []
    for inv in invocations:
        start = time.monotonic()
        once = (
            retag is not None
            and inv.output is not None
            and inv.output.kind == "push"
            and len(inv.tags) > 1
        )
        result = buildx.build(replace(inv, tags=inv.tags[:1]) if once else inv)
        if once:
            assert retag is not None
            pushed = inv.tags[0] + (f"@{result.digest}" if result.digest else "")
            retag(pushed, inv.tags[1:])
            result = replace(result, invocation=inv)
        summaries.append(report.summarize(result, seconds=time.monotonic() - start))
    return summaries
