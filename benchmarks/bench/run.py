"""Running the bench: three contenders, built, rebuilt, measured in the registry, served.

The contenders build the same project (``benchmarks/django-pillow``: Django, Pillow
and seven more pins, locked with hashes by pip-compile) on the same engine, from the
same base image pinned by digest, for the same platforms, and push to the loopback
registry:

* ``single-stage``: ``benchmarks/baselines/single-stage.Dockerfile``;
* ``multi-stage``: ``benchmarks/baselines/multi-stage.Dockerfile``;
* ``containerize``: ``containerize build --push``, as a user runs it.

Each one, in a copy of the project of its own: a cold build; a rebuild after a
code-only change; a rebuild after one dependency is bumped (re-locked by pip-compile);
the registry's manifests read after each push. Then its linux/amd64 image is pulled,
started, timed to its first 200 and put under a fixed load with wrk.
"""

from __future__ import annotations

import compileall
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

import containerize
from containerize import process
from containerize.engine import containers, docker
from containerize.errors import ConfigError, ContainerTestError
from containerize.image import pins
from containerize.platforms import Platform
from containerize.resolve import pipconfig

from . import figures, layers, load, relock

HERE = Path(__file__).resolve().parent
BENCHMARKS = HERE.parent
PROJECT = BENCHMARKS / "django-pillow"
BASELINES = BENCHMARKS / "baselines"
REGISTRY = "127.0.0.1:5000"
BASE_IMAGE = f"{REGISTRY}/containerize/python:3.11-bookworm"
#: The dependency the bench bumps, and to what (a real, newer release): a small one.
BUMP = ("python-dateutil", "2.9.0.post0")
#: Then a large one (Django's wheel is 8 MiB), on top of the first bump.
BUMP_LARGE = ("django", "5.2.20")
#: containerize's second server image, built last, to measure what the images share.
SECOND_SERVER = "cheroot"
CODE_FILE = Path("gallery") / "views.py"
AMD64 = "linux/amd64"
BOTH = ("linux/amd64", "linux/arm64")
PORT = 8000
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True, kw_only=True)
class Mode:
    """How much to measure: ``quick`` for development, ``full`` for the figures."""

    name: str
    platforms: tuple[str, ...]
    starts: int  # container starts timed to the first 200 (the median is kept)
    code_rebuilds: int  # code-only changes, each rebuilt and timed (the median is kept)
    cold_builds: int  # containerize's cold builds, timed (the median is kept)
    load: load.Load
    loads: int  # runs of that load on one container (the median is kept)
    amd64_alone: bool  # also a cold containerize build for linux/amd64 alone


QUICK = Mode(
    name="quick",
    platforms=(AMD64,),
    starts=1,
    code_rebuilds=3,
    cold_builds=1,
    load=load.Load(seconds=3),
    loads=1,
    amd64_alone=False,
)
FULL = Mode(
    name="full",
    platforms=BOTH,
    starts=3,
    code_rebuilds=3,  # the single-stage baseline's take a minute each, both platforms
    cold_builds=3,
    load=load.Load(seconds=10),
    loads=3,  # one run on a shared 2-CPU machine varies by 2x
    amd64_alone=True,
)


@dataclass(frozen=True, kw_only=True)
class Build:
    """One build to run: where the project is, where it goes, how cold."""

    project: Path
    repository: str
    platforms: tuple[str, ...]
    cold: bool
    scope: str  # names this contender's download cache for the run (empty when cold)
    log: Path  # where the build's output is kept
    servers: tuple[str, ...] = ()  # containerize's servers; () for the project's


@dataclass(frozen=True, kw_only=True)
class Phases:
    """Where a containerize build's time went, read from its output stamped line by
    line as it came: up to the ``docker buildx build`` it logs (``-v``), BuildKit's
    progress up to its last line, and what follows (the registry's further tags, the
    report, the exit). BuildKit writes its plain progress in bursts, so the split
    between the last two is within about 0.1 s."""

    before_buildx: float
    buildx: float
    after_buildx: float


#: How containerize's ``-v`` logs the build command, and how BuildKit's plain progress
#: lines start.
BUILDX_LOGGED = "$ docker buildx build "
BUILDKIT_LINE = "#"


def phases(lines: Sequence[tuple[float, str]], total: float) -> Phases | None:
    """*lines* (seconds since the start, text) of one ``containerize -v build`` that
    took *total* seconds, split into :class:`Phases`; None without a buildx build."""
    started = next((t for t, line in lines if line.startswith(BUILDX_LOGGED)), None)
    if started is None:
        return None
    progress = [t for t, line in lines if t >= started and line.startswith(BUILDKIT_LINE)]
    ended = progress[-1] if progress else started
    return Phases(before_buildx=started, buildx=ended - started, after_buildx=total - ended)


class Contender(Protocol):
    @property
    def name(self) -> str: ...

    def reference(self, repository: str) -> str:
        """The tag a build of this contender pushes."""
        ...

    def build(self, build: Build) -> Phases | None:
        """Build; where the time went, when the contender can tell."""
        ...

    def serve_env(self, workers: int) -> dict[str, str]: ...


@dataclass(frozen=True, kw_only=True)
class HandWritten:
    """A Dockerfile under ``benchmarks/baselines``, built with ``docker buildx build``.

    Secrets: the CA bundle and a pip.conf naming the user's index, never in a layer.
    """

    name: str
    dockerfile: Path
    base_image: str  # pinned by digest
    ca: Path
    pip_conf: Path
    cache_mount: bool = False  # the Dockerfile takes PIP_CACHE_ID for its cache mount

    def reference(self, repository: str) -> str:
        return f"{repository}:latest"

    def argv(self, build: Build) -> list[str]:
        args = docker.buildx_argv(
            "build", "--progress", "plain", "--file", str(self.dockerfile),
            "--platform", ",".join(build.platforms),
            "--build-arg", f"BASE_IMAGE={self.base_image}",
            "--secret", f"id=ca,src={self.ca}",
            "--secret", f"id=pipconf,src={self.pip_conf}",
            "--tag", self.reference(build.repository),
            "--provenance", "false", "--push",
        )  # fmt: skip
        if self.cache_mount:
            args += ["--build-arg", f"PIP_CACHE_ID=containerize-bench-{build.scope}"]
        if build.cold:
            args.append("--no-cache")
        return [*args, str(build.project)]

    def build(self, build: Build) -> None:
        _keep(build.log, process.run(self.argv(build), env={"DOCKER_BUILDKIT": "1"}, timeout=3600))

    def serve_env(self, workers: int) -> dict[str, str]:
        return {"WEB_CONCURRENCY": str(workers)}  # Gunicorn reads it


@dataclass(frozen=True, kw_only=True)
class Containerize:
    """``containerize build --push`` on the project, run as a user runs it."""

    caches: Path  # one download cache per scope below it
    name: str = figures.CONTAINERIZE

    def reference(self, repository: str) -> str:
        return f"{repository}:gunicorn"

    def argv(self, build: Build) -> list[str]:
        # -v: the build command is logged, which the phases are timed from.
        args = [sys.executable, "-m", "containerize.cli", "-v", "--project", str(build.project)]
        args += ["build", "--push"]
        for platform in build.platforms:
            args += ["--platform", platform]
        for server in build.servers:
            args += ["--server", server]
        return [*args, "--no-cache"] if build.cold else args

    def build(self, build: Build) -> Phases | None:
        env = {
            "CONTAINERIZE_IMAGE": build.repository,
            "CONTAINERIZE_CACHE_DIR": str(self.caches / build.scope),
        }
        # Both streams as one, each line stamped as it comes: the phases' times.
        argv = ["sh", "-c", 'exec "$@" 2>&1', "sh", "env", *(f"{k}={v}" for k, v in env.items())]
        argv += self.argv(build)
        lines: list[tuple[float, str]] = []
        began = time.monotonic()

        def read(stream: IO[bytes]) -> None:
            for raw in stream:
                lines.append((time.monotonic() - began, raw.decode(errors="replace")))

        try:
            process.run_reading(argv, read, timeout=3600)
        finally:
            total = time.monotonic() - began
            build.log.parent.mkdir(parents=True, exist_ok=True)
            build.log.write_text(
                f"$ {process.quote(argv)}\n"
                + "".join(f"{t:8.3f} {line}" for t, line in lines)
                + f"{total:8.3f} (exit)\n"
            )
        return phases(lines, total)

    def serve_env(self, workers: int) -> dict[str, str]:
        return {"WSGI_WORKERS": str(workers)}


def _keep(log: Path, completed: process.Completed) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {process.quote(completed.argv)}\n{completed.stdout}{completed.stderr}")


def index_pip_conf(project: Path) -> str:
    """A pip.conf naming the user's HTTP(S) indexes (from their pip configuration), for
    the hand-written builds: the same index containerize fetches from."""
    settings = pipconfig.discover(project)
    urls = []
    for index in settings.indexes:
        if not index.url.startswith(("https://", "http://")):
            continue  # a local folder is not inside the build
        url = index.url
        if index.credentials is not None:
            scheme, rest = url.split("://", 1)
            user, password = index.credentials.username, index.credentials.password
            url = f"{scheme}://{_quote(user)}:{_quote(password)}@{rest}"
        urls.append(url)
    if not urls:
        raise ConfigError(
            "no HTTP(S) package index in your pip configuration for the hand-written builds",
            hint="set index-url in pip.conf or PIP_INDEX_URL",
        )
    lines = ["[global]", f"index-url = {urls[0]}"]
    if urls[1:]:
        lines.append("extra-index-url = " + " ".join(urls[1:]))
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    from urllib.parse import quote  # noqa: PLC0415

    return quote(text, safe="")


def _copy(source: Path, dest: Path) -> Path:
    shutil.copytree(
        source, dest, ignore=shutil.ignore_patterns(".containerize", "staticfiles", "__pycache__")
    )
    return dest


def _say(text: str) -> None:
    print(text, flush=True)


@dataclass(frozen=True, kw_only=True)
class Served:
    first_200: float
    result: load.LoadResult


def serve(
    ref: str, env: Mapping[str, str], *, mode: Mode, run_id: str, timeout: float = 60.0
) -> Served:
    """Pull *ref* for linux/amd64, start it ``mode.starts`` times (timed from ``docker
    run`` to the first 200 on /health), then load the last one ``mode.loads`` times;
    remove what it made."""
    docker.run("pull", "--quiet", "--platform", AMD64, ref, timeout=900)
    starts: list[float] = []
    results: list[load.LoadResult] = []
    try:
        for attempt in range(mode.starts):
            began = time.monotonic()
            # On the host's network: the load measures the server, not the engine's
            # port-forwarding proxy, nor a client out of ports for new connections.
            container = containers.start(
                ref, platform=Platform.parse(AMD64), port=PORT, env=env, run_id=run_id,
                pull=False, host_network=True,
            )  # fmt: skip
            try:
                starts.append(_first_200(container, began, timeout=timeout))
                if attempt == mode.starts - 1:
                    url = f"http://{container.host}:{container.port}/"
                    load.run(load.Load(seconds=1), url)  # warm-up, not counted
                    results = [load.run(mode.load, url) for _ in range(mode.loads)]
            finally:
                containers.remove(container)
    finally:
        docker.run("rmi", ref, check=False, timeout=120)  # the image this bench pulled
    return Served(first_200=statistics.median(starts), result=load.median(results))


def _first_200(container: containers.Container, began: float, *, timeout: float) -> float:
    checked = began
    while time.monotonic() - began < timeout:
        try:
            if containers.request(container, "/health", timeout=2).status == 200:
                return time.monotonic() - began
        except (OSError, http.client.HTTPException):
            # Polled every 20 ms; whether it still runs, once a second.
            if time.monotonic() - checked > 1:
                checked = time.monotonic()
                if not containers.running(container):
                    break
        time.sleep(0.02)
    raise ContainerTestError(
        f"{container.name} gave no 200 on /health within {timeout:g}s",
        hint="its log:\n" + process.tail(containers.logs(container), 20),
    )


def measure(
    mode: Mode, *, logs: Path, only: tuple[str, ...] = figures.CONTENDERS
) -> figures.Report:
    """Every contender (of *only*) built, rebuilt, read from the registry and served;
    the report.

    Each build's output is kept in *logs* (``<contender>-<step>.log``).
    """
    load.require_wrk()
    _compile_containerize()
    run_id = uuid.uuid4().hex[:8]
    workers = 2 * (os.cpu_count() or 1) + 1
    with tempfile.TemporaryDirectory(prefix="containerize-bench-") as tmp_name:
        tmp = Path(tmp_name)
        base = f"{BASE_IMAGE}@{pins.resolve(BASE_IMAGE)}"
        base_image = layers.fetch(base, platforms=(AMD64,))[AMD64]
        ca = CA_BUNDLE
        if not ca.is_file():
            raise ConfigError(
                f"no CA bundle at {ca} for the hand-written builds' HTTPS to the index",
                hint="install ca-certificates",
            )
        pip_conf = tmp / "pip.conf"
        pip_conf.write_text(index_pip_conf(PROJECT))
        pip_conf.chmod(0o600)
        bumped = _copy(PROJECT, tmp / "bumped")
        changes = relock.bump(bumped, *BUMP)
        _say(f"bump: {', '.join(f'{n} {a} -> {b}' for n, (a, b) in changes.items())}")
        # The large bump on top of the small one: one more pin moved, Django's.
        bumped_large = _copy(bumped, tmp / "bumped-large")
        large = relock.bump(bumped_large, *BUMP_LARGE)
        _say(f"large bump: {', '.join(f'{n} {a} -> {b}' for n, (a, b) in large.items())}")
        changes = {**changes, **large}
        contenders: list[Contender] = [
            HandWritten(
                name=figures.SINGLE, dockerfile=BASELINES / "single-stage.Dockerfile",
                base_image=base, ca=ca, pip_conf=pip_conf,
            ),
            HandWritten(
                name=figures.MULTI, dockerfile=BASELINES / "multi-stage.Dockerfile",
                base_image=base, ca=ca, pip_conf=pip_conf, cache_mount=True,
            ),
            Containerize(caches=tmp / "caches"),
        ]  # fmt: skip
        results: dict[str, dict[str, float]] = {}
        for contender in (c for c in contenders if c.name in only):
            results[contender.name] = _contender(
                contender,
                mode=mode,
                project=_copy(PROJECT, tmp / contender.name),
                lock=(bumped / "requirements.txt").read_text(),
                large_lock=(bumped_large / "requirements.txt").read_text(),
                base=base_image,
                run_id=run_id,
                workers=workers,
                logs=logs,
            )
    return figures.Report(
        results=results,
        mode=mode.name,
        platforms=mode.platforms,
        conditions=_conditions(mode, workers, changes),
        machine={
            "cpus": os.cpu_count(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "base_image": base,
        },
    )


def _contender(
    contender: Contender,
    *,
    mode: Mode,
    project: Path,
    lock: str,
    large_lock: str,
    base: layers.PlatformImage,
    run_id: str,
    workers: int,
    logs: Path,
) -> dict[str, float]:
    name = contender.name
    repository = f"{REGISTRY}/containerize-bench/{run_id}-{name}"
    ref = contender.reference(repository)
    scope = f"{run_id}-{name}"
    found: dict[str, float] = {}
    timed_phases: dict[str, Phases | None] = {}

    def build(
        key: str,
        what: str,
        *,
        cold: bool = False,
        where: Path = project,
        to: str = repository,
        platforms: tuple[str, ...] = mode.platforms,
        cache: str = scope,
        servers: tuple[str, ...] = (),
    ) -> layers.Image:
        spec = Build(
            project=where, repository=to, platforms=platforms, cold=cold, scope=cache,
            log=logs / f"{name}-{key}.log", servers=servers,
        )  # fmt: skip
        found[key], timed_phases[key] = _timed(contender, spec)
        _say(f"{name}: {what}: {figures.show(found[key], 's')}{_shown(timed_phases[key])}")
        return layers.fetch(contender.reference(to), platforms=platforms)

    # containerize's cold builds take seconds, where the machine's noise is a large part
    # (the baselines' take a minute or more: one each): several, and the median kept.
    # The last is the one the rebuilds below follow; the others push elsewhere, each
    # with its own empty download cache.
    colds = mode.cold_builds if name == figures.CONTAINERIZE else 1
    cold_times: dict[str, list[float]] = {"cold": [], "cold_amd64": []}
    for n in range(1, colds + 1):
        if mode.amd64_alone and name == figures.CONTAINERIZE:
            # First: a --no-cache build records its own results in BuildKit's cache,
            # and the rebuilds below must find the layers the cold build pushed.
            build(
                "cold_amd64", f"cold build {n}, linux/amd64 alone", cold=True,
                where=_copy(project, project.parent / f"{name}-amd64-{n}"),
                to=f"{repository}-amd64-{n}", platforms=(AMD64,), cache=f"{scope}-amd64-{n}",
            )  # fmt: skip
            cold_times["cold_amd64"].append(found.pop("cold_amd64"))
        if n < colds:
            build(
                "cold", f"cold build {n}", cold=True,
                where=_copy(project, project.parent / f"{name}-cold-{n}"),
                to=f"{repository}-cold-{n}", cache=f"{scope}-cold-{n}",
            )  # fmt: skip
        else:
            cold = build("cold", f"cold build {n}" if colds > 1 else "cold build", cold=True)
        cold_times["cold"].append(found.pop("cold"))
    for key, times in cold_times.items():
        if times:
            found[key] = statistics.median(times)
    if colds > 1:
        _say(
            f"{name}: cold builds, median of {colds}: {figures.show(found['cold'], 's')}"
            + (
                f", linux/amd64 alone {figures.show(found['cold_amd64'], 's')}"
                if "cold_amd64" in found
                else ""
            )
        )
    # A code-only rebuild takes seconds, where the machine's noise is a large part:
    # several changes, each rebuilt, and the median kept.
    code_file = project / CODE_FILE
    code_images: list[layers.Image] = []
    for n in range(1, mode.code_rebuilds + 1):
        code_file.write_text(code_file.read_text() + f"\n# bench change {uuid.uuid4().hex}\n")
        code_images.append(build(f"code_rebuild_{n}", f"rebuild after code-only change {n}"))
    found.update(_code_medians(found, timed_phases, mode.code_rebuilds))
    _say(f"{name}: code-only rebuild, median: {figures.show(found['code_rebuild'], 's')}")
    code = code_images[-1]
    (project / "requirements.txt").write_text(lock)
    dep = build("dep_rebuild", f"rebuild after bumping {BUMP[0]}")
    (project / "requirements.txt").write_text(large_lock)
    dep_large = build("dep_large_rebuild", f"rebuild after bumping {BUMP_LARGE[0]}")

    code_push = layers.pushed(cold, code_images[0])
    found["code_push_bytes"] = code_push.bytes
    found["code_push_layers"] = code_push.most_layers_per_platform
    found.update(_bump_figures(name, code, dep, dep_large, base))
    if name == figures.CONTAINERIZE:
        found["server_shared_bytes"] = _second_server(build, repository, dep_large, base)
        found.pop("second_server")  # its time is not a figure: most of it is cached
    _say(
        f"{name}: pushed {figures.show(code_push.bytes, 'bytes')} for the code change "
        f"({code_push.layers} new layers in all), "
        f"{figures.show(found['dep_push_bytes'], 'bytes')} for the bump; "
        f"image {figures.show(found['image_bytes'], 'bytes')}, "
        f"{figures.show(found['overhead_bytes'], 'bytes')} over the base"
    )
    served = serve(ref, contender.serve_env(workers), mode=mode, run_id=run_id)
    found["first_200"] = served.first_200
    found["rps"] = served.result.rps
    found["p99"] = served.result.p99_ms
    found["load_errors"] = served.result.errors
    _say(
        f"{name}: first 200 after {figures.show(served.first_200, 's')}; "
        f"{served.result.rps:.0f} req/s, p99 {served.result.p99_ms:.1f} ms, "
        f"{served.result.errors} errors"
    )
    return found


def _timed(contender: Contender, spec: Build) -> tuple[float, Phases | None]:
    """How long *contender* took to build *spec*, and where the time went if it tells."""
    began = time.monotonic()
    split = contender.build(spec)
    return time.monotonic() - began, split


def _shown(split: Phases | None) -> str:
    if split is None:
        return ""
    return (
        f" ({figures.show(split.before_buildx, 's')} to buildx, "
        f"{figures.show(split.buildx, 's')} in it, {figures.show(split.after_buildx, 's')} after)"
    )


def _code_medians(
    found: dict[str, float], split: Mapping[str, Phases | None], rebuilds: int
) -> dict[str, float]:
    """The median time of the *rebuilds* code-only rebuilds (their own figures taken out
    of *found*), and of each of their phases when every one was split."""
    keys = [f"code_rebuild_{n}" for n in range(1, rebuilds + 1)]
    medians = {"code_rebuild": statistics.median(found.pop(key) for key in keys)}
    known = [p for p in (split.get(key) for key in keys) if p is not None]
    if len(known) != len(keys):
        return medians
    return {
        **medians,
        "code_before_buildx": statistics.median(p.before_buildx for p in known),
        "code_buildx": statistics.median(p.buildx for p in known),
        "code_after_buildx": statistics.median(p.after_buildx for p in known),
    }


def _second_server(
    build: Callable[..., layers.Image],
    repository: str,
    first: layers.Image,
    base: layers.PlatformImage,
) -> float:
    """containerize's second server image built beside the first: the bytes the two
    share over the base, which a host running both pulls once."""
    build(
        "second_server", f"build of the {SECOND_SERVER} image too",
        servers=("gunicorn", SECOND_SERVER),
    )  # fmt: skip
    second = layers.fetch(f"{repository}:{SECOND_SERVER}", platforms=(AMD64,))
    shared = layers.shared_over_base(first[AMD64], second[AMD64], base)
    _say(
        f"{figures.CONTAINERIZE}: the gunicorn and {SECOND_SERVER} images share "
        f"{figures.show(shared, 'bytes')} over the base"
    )
    return shared


def _bump_figures(
    name: str,
    code: layers.Image,
    dep: layers.Image,
    dep_large: layers.Image,
    base: layers.PlatformImage,
) -> dict[str, float]:
    """What the two bumps pushed (bytes, and the layers that changed), and the size of
    the last image, in all and over the base."""
    small, big = layers.pushed(code, dep), layers.pushed(dep, dep_large)
    _say(
        f"{name}: bump of {BUMP[0]}: {figures.show(small.bytes, 'bytes')} pushed, "
        f"{small.most_layers_per_platform} layers changed per platform; bump of "
        f"{BUMP_LARGE[0]}: {figures.show(big.bytes, 'bytes')}, "
        f"{big.most_layers_per_platform} layers"
    )
    return {
        "dep_push_bytes": small.bytes,
        "dep_push_layers": small.most_layers_per_platform,
        "dep_large_push_bytes": big.bytes,
        "dep_large_push_layers": big.most_layers_per_platform,
        "image_bytes": dep_large[AMD64].size,
        "overhead_bytes": layers.over_base(dep_large[AMD64], base),
    }


def _compile_containerize() -> None:
    """containerize's bytecode, compiled once before anything is timed, as pip leaves a
    package it installs: the bench's own install is editable, and with
    PYTHONDONTWRITEBYTECODE set (as on these machines) each run would compile every
    module it imports again, a cost no installed containerize has."""
    compileall.compile_dir(Path(containerize.__file__).parent, quiet=1)


def _conditions(
    mode: Mode, workers: int, changes: Mapping[str, tuple[str, str]]
) -> tuple[str, ...]:
    bump = ", ".join(f"{n} {a} -> {b}" for n, (a, b) in changes.items())
    return (
        "cold: BuildKit's cache is not used (--no-cache) by any contender; the multi-stage "
        "baseline's pip cache mount starts empty (a new id), containerize's download cache "
        "starts empty (a new CONTAINERIZE_CACHE_DIR); the base image is in the engine and "
        "the registry; each contender pushes to a new repository, so no blob is there yet; "
        f"containerize's cold builds ({mode.cold_builds} for each figure, alternating "
        "linux/amd64 alone and every platform, each to its own repository and download "
        "cache): the median; the baselines': one each",
        "warm (the rebuilds): each contender's own BuildKit cache from its cold build; the "
        "multi-stage baseline's pip cache mount and containerize's download cache as its "
        "builds left them; the single-stage baseline keeps no download cache "
        "(pip --no-cache-dir), as its Dockerfile says",
        f"code-only change: a line appended to {CODE_FILE}, {mode.code_rebuilds} times, each "
        "rebuilt: the median time, and the bytes pushed by the first; one-dependency change: "
        f"{bump} (the first, small, alone; then the second, large, on top), each "
        "re-locked with pip-compile from the same requirements.in; layers changed: the "
        "new layer blobs of the most changed platform",
        "bytes pushed: the blobs (layers and configs) of the new manifests that the previous "
        "push's manifests did not have, read from the registry; sizes: compressed layers "
        "of the registry's linux/amd64 manifest; over the base: the layers the base "
        "image's manifest does not have",
        f"runtime (linux/amd64): {workers} Gunicorn workers (WSGI_WORKERS, WEB_CONCURRENCY), "
        "every request in the access log on stdout by all three (the baselines' "
        "--access-logfile -, containerize's default access-log = common), "
        f"on the host's network (docker run --network host), port {PORT}, from loopback; "
        f"first 200 on /health timed from 'docker run' with the image pulled, median of "
        f"{mode.starts} start(s); load: wrk, {mode.load.threads} threads, "
        f"{mode.load.connections} connections, {mode.load.seconds} s on GET / (a Django "
        f"template), after a 1 s warm-up, {mode.loads} time(s): the median requests per "
        "second and p99, the errors of all runs",
        "containerize: its package's bytecode compiled once before the runs, as pip "
        "leaves an installed package (the bench's install is editable)",
        f"machine: {os.cpu_count()} CPUs, shared; the baselines' cold builds, the "
        "dependency bumps and the bytes are one run each, not averages",
    )
