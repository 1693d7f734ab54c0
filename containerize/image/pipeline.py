"""The image pipeline: configuration and lock in, one image per server out.

:func:`prepare` computes everything (targets, selection, wheelhouse, plan, Dockerfile,
context, buildx invocations); :func:`build` runs the invocations. A dry run stops
before anything is fetched or written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from containerize import process
from containerize import servers as servers_mod
from containerize.config import Config
from containerize.engine import buildx, doctor
from containerize.engine import probes as engine
from containerize.errors import CommandError, ConfigError, EngineError
from containerize.image import context, dockerfile, pins
from containerize.image import plan as planmod
from containerize.platforms import Platform
from containerize.resolve import lock as lockmod
from containerize.resolve import wheelhouse as wheelhouse_mod
from containerize.resolve.fetch import Cache
from containerize.resolve.targets import TargetEnvironment

logger = logging.getLogger("containerize")


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Everything a build needs, computed; nothing run yet."""

    config: Config
    plan: planmod.BuildPlan
    dockerfile: str
    selections: tuple[wheelhouse_mod.PlatformSelection, ...]
    invocations: tuple[buildx.BuildInvocation, ...]
    notices: tuple[str, ...]
    wheelhouse: wheelhouse_mod.Wheelhouse | None = None


@dataclass(frozen=True, kw_only=True)
class TargetSummary:
    """How one server's build went."""

    server: str
    tags: tuple[str, ...]
    seconds: float
    digest: str | None
    sizes: tuple[tuple[str, int | None], ...]  # compressed layers, per platform


def restrict(
    config: Config, *, platforms: Sequence[str] | None, servers: Sequence[str] | None
) -> Config:
    """*config* limited to the platforms and servers named on the command line."""
    if platforms:
        chosen = tuple(Platform.parse(p, where="--platform") for p in platforms)
        config = replace(config, platforms=chosen)
    if servers:
        for name in servers:
            servers_mod.get(name, where="--server")
        config = replace(config, servers=tuple(dict.fromkeys(servers)))
    return config


def targets_for(
    config: Config, base_image: str, *, probe: bool
) -> dict[Platform, TargetEnvironment]:
    """Each platform's target environment: probed in the base image, or assumed."""
    result = {}
    for platform in config.platforms:
        if probe:
            result[platform] = engine.probe_target(base_image, platform)
        else:
            cached = engine.cached_target(base_image, platform)
            result[platform] = cached or TargetEnvironment.from_config(
                platform, config.python_version, config.libc
            )
    return result


def prepare(
    config: Config,
    *,
    output: planmod.OutputKind,
    dry_run: bool = False,
    refresh_base: bool = False,
    use_engine: bool = True,
    cache_from: Sequence[str] = (),
    cache_to: Sequence[str] = (),
    no_cache: bool = False,
) -> Prepared:
    """Compute the build; unless *dry_run*, fetch the wheelhouse and write the context."""
    # Checked first, so a dry run and a real build reject the same configurations.
    app_files = context.app_files(config)
    project = lockmod.load_project(config.project_dir)
    lock = lockmod.load_lock(config.project_dir, config.lock)
    lockmod.check_fresh(lock, project)

    resolve = use_engine and not dry_run
    base, notices = _base_image(config, resolve=resolve, refresh=refresh_base)
    targets = targets_for(config, base, probe=resolve)
    selections = tuple(
        wheelhouse_mod.select_all(config, lock, project, targets[p]) for p in config.platforms
    )
    notices += wheelhouse_mod.announce_sdists(selections, native=os.uname().machine)
    first = targets[config.platforms[0]]
    plan = planmod.make_plan(
        config,
        base_image=base,
        python=first.interpreter,
        python_version=first.python_version,
        needs=wheelhouse_mod.needs(selections),
        revision=_git_revision(config.project_dir),
        created=_created(config.project_dir),
    )
    text = dockerfile.render(plan)
    context_dir = config.build_dir / "context"
    house = None
    if not dry_run:
        settings = wheelhouse_mod.index_settings(project)
        house = wheelhouse_mod.build(config, selections, settings=settings, cache=Cache.default())
        context.assemble(config, text, dest=context_dir, files=app_files)
    invocations = planmod.invocations(
        plan,
        context=context_dir,
        wheelhouse=config.build_dir / "wheelhouse",
        output=output,
        builder=config.builder,
        cache_from=(*config.cache_from, *cache_from),
        cache_to=(*config.cache_to, *cache_to),
        metadata_dir=config.build_dir / "metadata",
        no_cache=no_cache,
    )
    return Prepared(
        config=config,
        plan=plan,
        dockerfile=text,
        selections=selections,
        invocations=invocations,
        notices=tuple(notices),
        wheelhouse=house,
    )


def _base_image(config: Config, *, resolve: bool, refresh: bool) -> tuple[str, list[str]]:
    """The base image pinned by digest; without the engine, as far as the pins file says."""
    if resolve:
        ref = pins.pinned(
            config.base_image, config.pins_file, refresh=refresh, builder=config.builder
        )
        return ref, []
    recorded = pins.read(config.pins_file).get(config.base_image)
    if recorded or "@" in config.base_image:
        return (f"{config.base_image}@{recorded}" if recorded else config.base_image), []
    return config.base_image, [
        f"note: {config.base_image} is not pinned yet; a build with the engine pins it in "
        f"{config.pins_file.name}"
    ]


def choose_output(config: Config, *, push: bool) -> planmod.OutputKind:
    """``push`` when asked; else ``load``, if the engine can hold what is built."""
    if push:
        return "push"
    if len(config.platforms) > 1 and not engine.containerd_image_store():
        raise EngineError(
            "this engine's image store cannot load a multi-platform image "
            f"({', '.join(map(str, config.platforms))})",
            hint="build with --push, or one platform at a time with --platform, or enable "
            'the containerd image store ({"features": {"containerd-snapshotter": true}} in '
            "/etc/docker/daemon.json)",
        )
    return "load"


def preflight(config: Config, *, cache_to: Sequence[str] = ()) -> None:
    """Stop before a build that cannot work: a platform the builder cannot run, or a
    cache export its driver cannot do."""
    try:
        info = doctor.parse_inspect(buildx.inspect_builder(config.builder))
    except CommandError as exc:
        raise EngineError(
            f"the buildx builder {config.builder or 'default'!r} is not usable",
            hint="run 'containerize doctor'\n" + exc.output_tail,
        ) from None
    missing = [p for p in config.platforms if str(p) not in info.platforms]
    if missing:
        names = ", ".join(str(p) for p in missing)
        raise EngineError(
            f"builder {info.name!r} cannot build for {names}: no native node and no emulator",
            hint="register qemu emulation (on Debian: apt-get install qemu-user-static "
            "binfmt-support; update-binfmts --enable qemu-aarch64), or pass --builder with "
            "a node native to it; 'containerize doctor' shows the details",
        )
    exports = [s for s in (*config.cache_to, *cache_to) if not s.startswith("type=inline")]
    if info.driver == "docker" and exports:
        raise EngineError(
            f"builder {info.name!r} uses the docker driver, which cannot export a build "
            f"cache ({', '.join(exports)})",
            hint="use type=inline, or a docker-container or remote builder: "
            "'docker buildx create --name ci --driver docker-container' and --builder ci",
        )


def build(prepared: Prepared) -> list[TargetSummary]:
    """Run every invocation in order, streaming BuildKit's progress."""
    summaries = []
    for inv in prepared.invocations:
        start = time.monotonic()
        result = buildx.build(inv)
        seconds = time.monotonic() - start
        summaries.append(
            TargetSummary(
                server=inv.target or "?",
                tags=inv.tags,
                seconds=seconds,
                digest=result.digest,
                sizes=_sizes(inv),
            )
        )
    return summaries


def _sizes(inv: buildx.BuildInvocation) -> tuple[tuple[str, int | None], ...]:
    """Size per platform: compressed from the registry after a push; after a load, the
    engine reports the unpacked size of the image for its own platform only."""
    if inv.output is None or not inv.tags:
        return tuple((str(p), None) for p in inv.platforms)
    if inv.output.kind == "load":
        return _loaded_sizes(inv.tags[0])
    index = buildx.imagetools_inspect(inv.tags[0], builder=inv.builder) or {}
    if "layers" in index:  # a single-platform push gives a plain manifest
        return ((str(inv.platforms[0]) if inv.platforms else "?", _layers_size(index)),)
    sizes: list[tuple[str, int | None]] = []
    manifests = index.get("manifests")
    for entry in manifests if isinstance(manifests, list) else []:
        platform = entry.get("platform") or {}
        if platform.get("os") in (None, "unknown") or "digest" not in entry:
            continue  # attestation manifests
        name = f"{platform.get('os')}/{platform.get('architecture')}"
        ref = inv.tags[0].rsplit(":", 1)[0] + "@" + entry["digest"]
        sizes.append((name, _layers_size(buildx.imagetools_inspect(ref, builder=inv.builder))))
    return tuple(sizes)


def _loaded_sizes(tag: str) -> tuple[tuple[str, int | None], ...]:
    """Per-platform sizes of a loaded image, from the OCI index ``docker save`` streams.

    With the containerd image store the saved index holds every platform. Only the
    small JSON blobs are parsed; layer contents stream past unread.
    """
    documents: dict[str, Mapping[str, object]] = {}
    try:
        with process.reading(["docker", "save", tag]) as stream:
            _read_saved(stream, documents)
    except (CommandError, tarfile.TarError) as exc:
        # Sizes are a report, not a result: say why they are missing, build on.
        logger.warning("no image sizes for %s: %s", tag, str(exc).splitlines()[0])
        return ()
    index = documents.pop("index.json", {})
    sizes: list[tuple[str, int | None]] = []

    def walk(entries: object) -> None:
        for entry in entries if isinstance(entries, list) else []:
            document = documents.get(entry.get("digest", ""), {})
            if "manifests" in document:
                walk(document["manifests"])
            elif "layers" in document:
                platform = entry.get("platform") or {}
                if platform.get("os") not in (None, "unknown"):
                    name = f"{platform['os']}/{platform.get('architecture')}"
                    sizes.append((name, _layers_size(document)))

    walk(index.get("manifests"))
    return tuple(sorted(sizes))


def _read_saved(stream: IO[bytes], documents: dict[str, Mapping[str, object]]) -> None:
    """Collect index.json and the small JSON blobs of a ``docker save`` stream."""
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            small = member.isfile() and member.size < 1 << 20
            if not small or not (member.name == "index.json" or "blobs/sha256/" in member.name):
                continue
            handle = archive.extractfile(member)
            try:
                document = json.loads(handle.read()) if handle else None
            except ValueError:
                continue  # a small layer, not JSON
            if not isinstance(document, dict):
                continue
            name = member.name
            documents[name if name == "index.json" else "sha256:" + name.rsplit("/", 1)[1]] = (
                document
            )


def _layers_size(manifest: Mapping[str, object] | None) -> int | None:
    layers = manifest.get("layers") if manifest else None
    if not isinstance(layers, list):
        return None
    return sum(int(layer.get("size", 0)) for layer in layers if isinstance(layer, dict))


def bake_file(prepared: Prepared) -> str:
    """A ``docker-bake.json`` with one target per server, for CI that runs bake."""
    targets = {}
    for inv in prepared.invocations:
        spec: dict[str, object] = {
            "context": str(inv.context),
            "dockerfile": str(inv.dockerfile),
            "target": inv.target,
            "platforms": [str(p) for p in inv.platforms],
            "tags": list(inv.tags),
            "contexts": {name: str(path) for name, path in inv.build_contexts},
        }
        if inv.cache_from:
            spec["cache-from"] = list(inv.cache_from)
        if inv.cache_to:
            spec["cache-to"] = list(inv.cache_to)
        if inv.no_cache:
            spec["no-cache"] = True
        # The same plain images as 'containerize build', which passes --provenance false.
        spec["attest"] = ["type=provenance,disabled=true"]
        if inv.output is not None:
            spec["output"] = ["type=registry"] if inv.output.kind == "push" else ["type=docker"]
        targets[inv.target or "default"] = spec
    document = {"group": {"default": {"targets": sorted(targets)}}, "target": targets}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _git(project_dir: Path, *args: str) -> str | None:
    """A git answer about the project, or None outside a repository or without git."""
    try:
        result = process.run(["git", *args], cwd=project_dir, check=False, timeout=30)
    except CommandError:
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


def _git_revision(project_dir: Path) -> str | None:
    return _git(project_dir, "rev-parse", "HEAD")


def _created(project_dir: Path) -> dt.datetime:
    """SOURCE_DATE_EPOCH if set, else the last commit's time, else the epoch."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
        except ValueError:
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix timestamp") from None
    committed = _git(project_dir, "log", "-1", "--format=%ct")
    if committed and committed.isdigit():
        return dt.datetime.fromtimestamp(int(committed), tz=dt.UTC)
    return dt.datetime.fromtimestamp(0, tz=dt.UTC)
