"""The build plan: frozen records computed from configuration, lock and base image.

Nothing here touches the engine. The plan is what the Dockerfile is rendered from,
what the buildx invocations are made of, and what a dry run prints.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from containerize import buildsteps, runtime, servers, syspackages, testenv
from containerize.config import Config
from containerize.engine import buildx
from containerize.engine.buildx import OutputKind
from containerize.errors import ConfigError
from containerize.image import buildcache, layers
from containerize.image.layergroups import LockHistory
from containerize.image.layers import LayerPlan
from containerize.platforms import Platform
from containerize.reference import ImageReference
from containerize.resolve.selection import PlatformSelection
from containerize.resolve.wheelhouse import Needs
from containerize.writablepaths import WritablePath

VENV = "/opt/venv"
# Where sdists are compiled: pip and their build requirements, never in an image.
BUILD_ENV = "/opt/build-env"
# The project's folder in the image; the app folder (app-directory) is in it, where
# it is in the project: site/ is /app/site.
APP_DIR = "/app"
WHEELHOUSE_CONTEXT = "wheelhouse"
TOOLS_CONTEXT = "tools"
# In the build context: the runtime files every image gets, and each server's own.
RUNTIME_CONTEXT = "containerize/runtime"
# In the build context: the scripts build steps run (bind-mounted, never copied).
BUILDSTEPS_CONTEXT = "containerize/buildsteps"
# The compile build's only stage that is exported: the wheels it compiled.
COMPILE_TARGET = buildx.COMPILE_TARGET
_MAX_TAG = 128  # the OCI distribution spec's limit on a tag
ENTRYPOINT = (f"{VENV}/bin/python", f"{runtime.IMAGE_DIR}/start.py")


@dataclass(frozen=True, kw_only=True)
class ServerStage:
    """One server's part of the image: its venv stage and its final target."""

    name: str
    manifest: str  # its install manifest inside each platform's wheelhouse folder
    build_packages: tuple[str, ...]  # empty when every file is a wheel
    runtime_packages: tuple[str, ...]
    command: tuple[str, ...]  # a template: the entrypoint fills in workers and the like
    stop_signal: str
    tags: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # server.json and configuration, by file name
    #: Its own packages are the same pure wheels on every platform: its layer is
    #: installed once for all of them (:mod:`containerize.image.layers`).
    pure: bool = False

    @property
    def context_dir(self) -> str:
        """Its folder in the build context, copied into the image's containerize folder."""
        return f"containerize/{self.name}"


@dataclass(frozen=True, kw_only=True)
class StaticPlan:
    """Static files: *url* served from the app folder's *dir*, made by *command* when
    given (run in the app folder)."""

    url: str
    dir: str
    command: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    """Everything needed to render the Dockerfile and run the builds."""

    base_image: str  # reference pinned by digest when known
    platforms: tuple[Platform, ...]
    python: str
    python_version: tuple[int, int]
    base_manifest: str | None  # None when the app has no dependencies of its own
    base_build_packages: tuple[str, ...]
    servers: tuple[ServerStage, ...]
    uid: int
    gid: int
    port: int
    healthcheck_path: str
    env: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    static: StaticPlan | None
    import_check: bool
    # Where the import check and the static command run, once for every target: this
    # machine's platform when it is a target (natively), else the first target.
    check_platform: Platform
    # Whether the check platform is this machine's (the build platform's) own: then the
    # check stages start from the venvs the builder made, with nothing to copy.
    check_is_native: bool
    # The app folder in the image: the working directory and the import root.
    app_dir: str = APP_DIR
    #: What each sdist is compiled with beyond the toolchain, and where that came from.
    sdist_builds: tuple[syspackages.BuildNeeds, ...] = ()
    #: The project's own build packages, for every compile.
    project_build_packages: tuple[str, ...] = ()
    #: Debian packages every image gets in its runtime stage: the project's declared
    #: run packages and those derived from the app's compiled wheels.
    runtime_packages: tuple[str, ...] = ()
    #: The test environment (containerize.testenv): the import check and the static
    #: command read it from a BuildKit secret; it is never written into the Dockerfile.
    test_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: The app's dependencies in layers (:mod:`containerize.image.layers`).
    layers: LayerPlan = field(default_factory=LayerPlan)
    #: The paths of the app folder the app's user owns (:mod:`containerize.image.writable`).
    writable: tuple[WritablePath, ...] = ()

    @property
    def runs_the_app(self) -> bool:
        """True when a build step runs the app with the test environment: the import
        check or the static command, with a test environment to give them."""
        static = self.static is not None and bool(self.static.command)
        return bool(self.test_env) and (self.import_check or static)

    @property
    def compile_packages(self) -> tuple[str, ...]:
        """The Debian packages that compile every sdist any image needs (sorted)."""
        packages = set(self.base_build_packages)
        for stage in self.servers:
            packages.update(stage.build_packages)
        if packages:
            packages.update(self.project_build_packages)
            for needs in self.sdist_builds:
                packages.update(needs.packages)
        return tuple(sorted(packages))

    def context_files(self) -> dict[str, bytes]:
        """The files the Dockerfile copies from the context besides the app's, by path."""
        files = {f"{RUNTIME_CONTEXT}/{name}": data for name, data in runtime.sources().items()}
        files.update(buildsteps_files())
        for stage in self.servers:
            for name, text in stage.files:
                files[f"{stage.context_dir}/{name}"] = text.encode()
        return files


def app_dir(config: Config) -> str:
    """The app folder in the image: ``/app``, or ``/app/site`` for app-directory 'site'."""
    if config.app_directory == PurePosixPath("."):
        return APP_DIR
    return f"{APP_DIR}/{config.app_directory.as_posix()}"


def buildsteps_files() -> dict[str, bytes]:
    """The scripts build steps run, by path in a build context."""
    return {f"{BUILDSTEPS_CONTEXT}/{name}": data for name, data in buildsteps.sources().items()}


@dataclass(frozen=True, kw_only=True)
class DerivedPackages:
    """Debian packages the compiled wheels need at run time (from their ELF files):
    those of the app's own dependencies, and those each server adds."""

    base: tuple[str, ...] = ()
    servers: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def server(self, name: str) -> tuple[str, ...]:
        return dict(self.servers).get(name, ())


def make_plan(
    config: Config,
    *,
    base: ImageReference,
    python: str,
    python_version: tuple[int, int],
    needs: Needs,
    revision: str | None,
    created: dt.datetime,
    native_arch: str,
    derived: DerivedPackages | None = None,
    selections: Sequence[PlatformSelection] = (),
    history: LockHistory | None = None,
) -> BuildPlan:
    """Compute the build plan; *base* is the base image's reference, pinned by digest,
    *native_arch* the OCI architecture of the machine that builds.

    *derived* says what the compiled wheels need at run time; before the sdists are
    compiled it is unknown, and only declared run packages are planned
    (:func:`with_derived` adds it to a plan afterwards). The dependency layers are
    planned from *selections* with the lock's file sizes (:func:`with_sizes` plans them
    again with the wheelhouse's), and what the lock's git *history* says was bumped
    together.
    """
    # Decided here, from the configuration and the selections, before anything below
    # this module is asked (the test environment, the system packages, the base image's
    # reference, the servers): each of those gets plain values, in that order.
    folder = app_dir(config)
    check = check_platform(config.platforms, native_arch)
    tags = {name: tags_for(config, name) for name in config.servers}
    app_spec = _app_spec(config, folder)
    labels = labels_for(config, base=base, revision=revision, created=created)
    pure = {
        name: bool(selections) and layers.server_is_pure(selections, name)
        for name in config.servers
    }
    layer_plan = (
        layers.from_selections(selections, budget=config.layer_budget, history=history)
        if not needs.base_is_empty
        else LayerPlan(budget=config.layer_budget)
    )
    test_env = testenv.variables(config.test)
    # What the system packages add: the sdists' builds, the app's run packages and
    # each server's (with what compiled wheels were found to need, when *derived*).
    system = config.system_packages
    sdist_builds = tuple(
        b
        for b in (syspackages.build_needs(name, system) for name in needs.sdists)
        if b.origin != "none"
    )
    runtime_packages = syspackages.run_needs(needs.base_names, system)
    server_run = {
        name: syspackages.run_needs(needs.server_names.get(name, ()), system)
        for name in config.servers
    }
    if derived is not None:
        runtime_packages = tuple(sorted({*runtime_packages, *derived.base}))
        found = dict(derived.servers)
        server_run = {name: (*run, *found.get(name, ())) for name, run in server_run.items()}
    static = (
        servers.StaticMount(url=config.static.url, root=f"{folder}/{config.static.dir}")
        if config.static
        else None
    )
    runtime_info = servers.Runtime(
        python=python,
        python_version=python_version,
        venv=VENV,
        app_dir=folder,
        port=config.port,
        static=static,
    )
    # The app's own sdists are C extensions more often than not: a compiler and headers.
    base_build = servers.toolchain(runtime_info) if needs.base_has_sdists else ()
    stages = []
    for name in config.servers:
        server = servers.get(name)
        build = server.build_packages(runtime_info) if needs.server_has_sdists.get(name) else ()
        command = server.command(runtime_info)
        settings = {
            **app_spec["settings"],
            "worker_memory": app_spec["settings"]["worker_memory"] or server.worker_memory,
            # Stated: start.py does not raise it to what the build measured the app holds.
            "worker_memory_stated": app_spec["settings"]["worker_memory"] is not None,
            "memory_reserve": server.memory_reserve,
            "threads": app_spec["settings"]["threads"] or server.default_threads,
        }
        spec = {
            **app_spec,
            "server": server.name,
            "recycling": server.recycling,
            "static": None
            if static is None
            else {"url": static.url, "root": static.root, "whitenoise": not server.serves_static},
            "settings": settings,
            "argv": list(command),
            "unblocks_stop_signals": server.unblocks_stop_signals,
            "workers_are_threads": server.workers_are_threads,
            # Added to argv at start: the one list or the other, as preload decides.
            "preload_args": {
                "on": list(server.preload.on),
                "off": list(server.preload.off),
                "cannot": server.preload.cannot,
            },
            # Added to argv at start unless the allowed hosts (at run time) include '*'.
            "host_check": list(server.host_check(runtime_info)),
        }
        stages.append(
            ServerStage(
                name=name,
                manifest=f"install-{name}.json",
                build_packages=build,
                runtime_packages=tuple(
                    sorted(
                        {*server.runtime_packages(runtime_info), *server_run[name]}
                        - set(system.run)  # already in the runtime stage
                    )
                ),
                command=command,
                stop_signal=server.stop_signal,
                tags=tags[name],
                pure=pure[name],
                files=tuple(
                    sorted(
                        {
                            **server.files(runtime_info),
                            "server.json": json.dumps(spec, indent=2, sort_keys=True) + "\n",
                        }.items()
                    )
                ),
            )
        )
    planned = BuildPlan(
        base_image=str(base),
        platforms=config.platforms,
        python=python,
        python_version=python_version,
        base_manifest=None if needs.base_is_empty else "install-base.json",
        base_build_packages=base_build,
        servers=tuple(stages),
        uid=config.uid,
        gid=config.gid,
        port=config.port,
        healthcheck_path=config.healthcheck_path,
        env=config.env,
        labels=labels,
        static=(
            StaticPlan(url=config.static.url, dir=config.static.dir, command=config.static.command)
            if config.static
            else None
        ),
        import_check=config.import_check,
        test_env=test_env,
        check_platform=check,
        check_is_native=check.arch == native_arch,
        app_dir=folder,
        sdist_builds=sdist_builds,
        project_build_packages=system.build if needs.sdists else (),
        runtime_packages=runtime_packages,
        layers=layer_plan,
        writable=config.writable,
    )
    return planned


def with_sizes(
    plan: BuildPlan, selections: Sequence[PlatformSelection], sizes: Mapping[str, int]
) -> BuildPlan:
    """*plan* with its dependency layers planned again from the wheelhouse's file
    *sizes* (by sha256): every file's, where the lock may not say."""
    if not plan.layers.layers:
        return plan
    planned = layers.from_selections(
        selections, budget=plan.layers.budget, sizes=sizes, history=plan.layers.history
    )
    return replace(plan, layers=planned)


def with_derived(
    plan: BuildPlan, derived: DerivedPackages, system: syspackages.SystemPackages
) -> BuildPlan:
    """*plan* with the Debian packages the compiled wheels need at run time: the app's
    in the runtime stage, each server's in its stage (less what the runtime stage has
    from *system*'s run packages already)."""
    return replace(
        plan,
        servers=tuple(
            replace(
                stage,
                runtime_packages=tuple(
                    sorted({*stage.runtime_packages, *derived.server(stage.name)} - set(system.run))
                ),
            )
            for stage in plan.servers
        ),
        runtime_packages=tuple(sorted({*plan.runtime_packages, *derived.base})),
    )


def check_platform(platforms: Sequence[Platform], native_arch: str) -> Platform:
    """The platform the import check and the static command run on, once for every
    target: the first target the machine runs natively, else the first target (then
    they run emulated, but still once).

    Importing the app and making its static files do not depend on the CPU for pure
    Python code, and the wheelhouse always holds a target's wheels; the build
    platform's, when it is not a target, would have to be fetched (and its sdists
    compiled) only for this.
    """
    return next((p for p in platforms if p.arch == native_arch), platforms[0])


def _app_spec(config: Config, folder: str) -> dict[str, Any]:
    """The part of the image's server.json (what the entrypoint and the WSGI entry
    point read) that the configuration alone decides; each server adds its own."""
    return {
        "app": config.app.to_json(),
        "app_dir": folder,
        "port": config.port,
        "allowed_hosts": list(config.allowed_hosts),
        "trusted_proxies": list(config.trusted_proxies),
        "access_log": config.access_log,
        "preload": config.preload,  # 'auto': as the import check's verdict says
        "settings": {
            "workers": config.workers,  # None: from the container's CPUs and memory at start
            "worker_memory": config.worker_memory,  # None: the server's default
            "threads": config.threads,  # None: the server's default
            "timeout": config.timeout,
            "keepalive": config.keep_alive,
            "grace_period": config.grace_period,
            "max_requests": config.max_requests,
            "max_requests_jitter": config.max_requests_jitter,  # None: max_requests / 10
        },
    }


def tags_for(config: Config, server: str) -> tuple[str, ...]:
    """``image:server`` and ``image:version-server`` (``+`` and the like become ``-``)."""
    version = re.sub(r"[^A-Za-z0-9_.-]", "-", config.version)
    tag = f"{version}-{server}"
    if len(tag) > _MAX_TAG:
        raise ConfigError(
            f"{config.project.path.name}: the version {config.version[:40]!r}... is too long "
            f"for an image tag: '{tag[:40]}...' has {len(tag)} characters, registries take "
            f"at most {_MAX_TAG}",
            hint="use a shorter version",
        )
    return (f"{config.image}:{server}", f"{config.image}:{tag}")


def labels_for(
    config: Config, *, base: ImageReference, revision: str | None, created: dt.datetime
) -> tuple[tuple[str, str], ...]:
    """The image's OCI labels; *base* is the base image's reference, parsed where it
    was pinned."""
    labels = {
        "org.opencontainers.image.title": config.name,
        "org.opencontainers.image.version": config.version,
        "org.opencontainers.image.created": created.astimezone(dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "org.opencontainers.image.base.name": str(replace(base, digest=None)),
    }
    if base.digest:
        labels["org.opencontainers.image.base.digest"] = base.digest
    if revision:
        labels["org.opencontainers.image.revision"] = revision
    if config.source:
        labels["org.opencontainers.image.source"] = config.source
    return tuple(sorted(labels.items()))


def invocations(
    plan: BuildPlan,
    *,
    context: Path,
    wheelhouse: Path,
    tools: Path,
    output: OutputKind,
    builder: str | None,
    build_cache: buildcache.CacheSettings = buildcache.NONE,
    platforms: Sequence[Platform] | None = None,
    metadata_dir: Path | None = None,
    progress: buildx.Progress = "auto",
    no_cache: bool = False,
) -> tuple[buildx.BuildInvocation, ...]:
    """One buildx invocation per server target."""
    out = None if output == "none" else buildx.Output(kind=output)
    # Each platform's folder of the wheelhouse is a context of its own (see
    # dockerfile.py); every one the plan has, as the check platform may not be built.
    contexts = (
        (TOOLS_CONTEXT, tools),
        *((f"{WHEELHOUSE_CONTEXT}-{p.slug}", wheelhouse / p.slug) for p in plan.platforms),
    )
    secrets = ((testenv.MOUNT_ID, testenv.shell_text(plan.test_env)),) if plan.runs_the_app else ()
    return tuple(
        buildx.BuildInvocation(
            context=context,
            dockerfile=context / "Dockerfile",
            target=stage.name,
            secrets=secrets,
            platforms=tuple(platforms or plan.platforms),
            tags=stage.tags,
            build_contexts=contexts,
            output=out,
            builder=builder,
            cache_from=build_cache.specs(stage.name).cache_from,
            cache_to=build_cache.specs(stage.name).cache_to,
            progress=progress,
            metadata_file=(metadata_dir / f"{stage.name}.json") if metadata_dir else None,
            no_cache=no_cache,
        )
        for stage in plan.servers
    )


def compile_invocation(
    plan: BuildPlan,
    *,
    context: Path,
    wheelhouse: Path,
    tools: Path,
    platforms: Sequence[Platform],
    dest: Path,
    builder: str | None,
    build_cache: buildcache.CacheSettings = buildcache.NONE,
    progress: buildx.Progress = "auto",
    no_cache: bool = False,
) -> buildx.BuildInvocation:
    """The build that compiles the sdists of *platforms* and exports their wheels to
    *dest*, one folder per platform."""
    return buildx.BuildInvocation(
        context=context,
        dockerfile=context / "Dockerfile",
        target=COMPILE_TARGET,
        platforms=tuple(platforms),
        build_contexts=((TOOLS_CONTEXT, tools), (WHEELHOUSE_CONTEXT, wheelhouse)),
        output=buildx.Output(kind="local", dest=dest),
        builder=builder,
        cache_from=build_cache.specs(buildcache.COMPILE).cache_from,
        cache_to=build_cache.specs(buildcache.COMPILE).cache_to,
        progress=progress,
        no_cache=no_cache,
    )
