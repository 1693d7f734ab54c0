"""Several targets built together: one fetch, one compile build, one bake.

A repository with several targets (:mod:`containerize.workspace`) shares its work
among them:

:func:`compile_together`
    resolves each target as it would alone (:func:`~containerize.image.pipeline.resolve`),
    fetches every file a target selects into its build folder (the download cache
    holds each file once, so what two targets share is downloaded once), and compiles
    the union of the sdists and local packages no cache holds yet in one compile build
    (:mod:`containerize.image.compile`) in the shared folder, ``.containerize/shared``
    at the repository's root. Each target's wheels are recorded under its own key, so
    each target's own :func:`~containerize.image.pipeline.prepare` then finds every
    wheel compiled and runs no compile build of its own.

    Targets compile together when their compile builds are the same build: the same
    pinned base image, the same compile Dockerfile (the same Debian packages), the same
    build requirements per platform, the same builder. Others get a compile build per
    group of such targets.

:func:`build_together`
    runs the image builds of every target side by side, in one ``docker buildx bake``
    per builder (:func:`containerize.image.bake.run`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from containerize.buildfolder import BuildFolder
from containerize.config import Config
from containerize.engine import buildx
from containerize.fsutil import claim, link_or_copy, replacing_dir
from containerize.image import (
    bake,
    buildcache,
    buildkey,
    compilefile,
    context,
    pipeline,
    plan,
    report,
    revision,
)
from containerize.image import compile as compile_mod
from containerize.resolve import wheelhouse as wheelhouse_mod
from containerize.resolve.buildlock import PinnedFile
from containerize.resolve.fetch import FetchReport
from containerize.resolve.pipconfig import IndexSettings
from containerize.resolve.selection import SelectedPackage
from containerize.resolve.sharing import SharedCache
from containerize.resolve.wheelhouse import CompiledWheel

#: The shared folder's place below the repository's build folder.
SHARED = "shared"


@dataclass(frozen=True, kw_only=True)
class _Member:
    """One target with sdists left to compile, fetched."""

    name: str
    config: Config
    plan: plan.BuildPlan
    base_image: str
    house: wheelhouse_mod.Wheelhouse
    settings: IndexSettings  # where its files come from


@dataclass(frozen=True, kw_only=True)
class Compiled:
    """What :func:`compile_together` did."""

    #: Each group's compile: the targets it compiled for, and the wheels it made.
    builds: tuple[tuple[tuple[str, ...], tuple[CompiledWheel, ...]], ...]
    #: The targets whose sdists were all compiled before (none to compile).
    ready: tuple[str, ...]

    def lines(self) -> list[str]:
        out = []
        for names, wheels in self.builds:
            served: dict[str, list[str]] = {}
            for wheel in wheels:
                served.setdefault(wheel.filename, []).append(wheel.platform)
            made = "; ".join(f"{name} ({', '.join(sorted(p))})" for name, p in served.items())
            out.append(f"compiled once for {', '.join(names)}: {made}")
        return out


def shared_folder(root_build_dir: Path) -> BuildFolder:
    """The shared folder of the targets below a repository's build folder."""
    return BuildFolder.at(root_build_dir / SHARED)


def compile_together(
    targets: Sequence[tuple[str, Config]],
    machine: pipeline.Machine,
    *,
    shared: BuildFolder,
    no_cache: bool = False,
    record_build_requirements: Callable[[str], None] | None = None,
    unchanged: buildkey.Unchanged | None = None,
) -> Compiled:
    """Compile the sdists every target in *targets* needs, once, into the cache of
    compiled wheels; a target whose every image is *unchanged* is left out.

    The caller holds each target's build folder and *shared*.
    """
    members: list[_Member] = []
    ready: list[str] = []
    for name, cfg in targets:
        member = _fetched(name, cfg, machine, record_build_requirements, unchanged)
        if member is None:
            continue
        if member.house.pending:
            members.append(member)
        else:
            ready.append(name)
    groups: dict[str, list[_Member]] = {}
    for member in members:
        groups.setdefault(_compile_identity(member), []).append(member)
    builds = []
    for group in groups.values():
        wheels = _compile_group(group, shared, machine, no_cache=no_cache)
        builds.append((tuple(m.name for m in group), wheels))
    return Compiled(builds=tuple(builds), ready=tuple(ready))


def _fetched(
    name: str,
    cfg: Config,
    machine: pipeline.Machine,
    record_build_requirements: Callable[[str], None] | None,
    unchanged: buildkey.Unchanged | None,
) -> _Member | None:
    """*cfg*'s wheelhouse, fetched into its build folder, with the wheels the caches
    hold taken; None when it has nothing to compile or every image is unchanged."""
    resolved = pipeline.resolve(cfg, machine)
    if not resolved.needs.sdists:
        return None
    build_plan = pipeline.make_plan(
        cfg, resolved, revision.stamp(cfg.project_dir), native_arch=machine.native_arch
    )
    if unchanged is not None:
        app = buildkey.app_digest(cfg.app_root, context.app_files(cfg))
        keys = buildkey.image_keys(
            build_plan, base_image=resolved.base_image, selections=resolved.selections, app=app
        )
        if all(unchanged(stage.tags[0], keys[stage.name]) for stage in build_plan.servers):
            return None
    shared = SharedCache.beside(cfg.image, machine.cache) if cfg.share == "registry" else None
    if record_build_requirements is not None:
        for line in pipeline.record_missing_build_requirements(
            cfg.project_dir, resolved, cache=machine.cache, shared=shared
        ):
            record_build_requirements(line)
    folder = BuildFolder.at(cfg.build_dir)
    house = pipeline.fetch_wheelhouse(
        folder, cfg.project_dir, resolved, cache=machine.cache, shared=shared
    )
    system = cfg.system_packages
    if shared is not None:
        compile_mod.pull_shared(
            resolved.base_image, house, cache=machine.cache, shared=shared, system=system
        )
    known = compile_mod.cached(resolved.base_image, house, cache=machine.cache, system=system)
    if known:
        house = pipeline.fetch_wheelhouse(
            folder, cfg.project_dir, resolved, cache=machine.cache, compiled=known
        )
    return _Member(
        name=name,
        config=cfg,
        plan=build_plan,
        base_image=resolved.base_image,
        house=house,
        settings=resolved.settings,
    )


def _compile_identity(member: _Member) -> str:
    """What must be equal for two targets to share a compile build."""
    return json.dumps(
        {
            "base-image": member.base_image,
            "dockerfile": compilefile.render_compile(member.plan),
            "builder": member.config.builder,
            "build-requirements": {
                item.selection.target.platform.slug: sorted(
                    (f.filename, f.sha256) for f in item.build_requirements
                )
                for item in member.house.platforms
                if item.pending
            },
        },
        sort_keys=True,
    )


def _compile_group(
    group: Sequence[_Member], shared: BuildFolder, machine: pipeline.Machine, *, no_cache: bool
) -> tuple[CompiledWheel, ...]:
    """One compile build for the pending sdists of every target in *group* (two when
    local packages are built natively first, see
    :func:`~containerize.image.compile.compile_pending`); the wheels it made. Each
    target's wheels are remembered under its own key."""
    first = group[0]
    house = _union(group, shared)
    wheelhouse_mod.fetch_tools(shared.tools, settings=first.settings, cache=machine.cache)
    compiled = compile_mod.compile_pending(
        shared,
        first.plan,
        house,
        cache=machine.cache,
        builder=first.config.builder,
        no_cache=no_cache,
        build_cache=buildcache.settings(first.config),
    )
    for member in group:
        compile_mod.remember(
            member.base_image,
            member.house,
            compiled,
            cache=machine.cache,
            system=member.config.system_packages,
        )
    return compiled


def _union(group: Sequence[_Member], shared: BuildFolder) -> wheelhouse_mod.Wheelhouse:
    """The shared wheelhouse: per platform, every target's pending sdists (each once)
    and their build requirements (the same for the whole group), with the manifests
    the compile build reads."""
    claim(shared.root)
    by_platform: dict[str, list[wheelhouse_mod.PlatformWheelhouse]] = {}
    for member in group:
        for item in member.house.platforms:
            if item.pending:
                by_platform.setdefault(item.selection.target.platform.slug, []).append(item)
    platforms = []
    with replacing_dir(shared.wheelhouse) as staging:
        for slug, items in by_platform.items():
            folder = staging / slug
            folder.mkdir(parents=True)
            pending: dict[str, SelectedPackage] = {}
            for item in items:
                for package in item.pending:
                    if package.file.sha256 not in pending:
                        pending[package.file.sha256] = package
                        link_or_copy(
                            item.folder / package.file.filename, folder / package.file.filename
                        )
            requirements: dict[str, PinnedFile] = {}
            for item in items:
                for pinned in item.build_requirements:
                    if pinned.sha256 not in requirements:
                        requirements[pinned.sha256] = pinned
                        link_or_copy(item.folder / pinned.filename, folder / pinned.filename)
            chosen = sorted(pending.values(), key=lambda p: (p.name, p.file.filename))
            _write(folder / "compile.json", "sdists", [
                (p.name, str(p.version), p.file.filename, p.file.sha256) for p in chosen
            ])  # fmt: skip
            _write(folder / "build-env.json", "wheels", [
                (p.name, p.version, p.filename, p.sha256) for p in requirements.values()
            ])  # fmt: skip
            platforms.append(
                replace(
                    items[0],
                    folder=shared.wheelhouse / slug,
                    report=FetchReport(files=()),
                    build_requirements=tuple(requirements.values()),
                    compiled=(),
                    pending=tuple(chosen),
                )
            )
    return wheelhouse_mod.Wheelhouse(root=shared.wheelhouse, platforms=tuple(platforms))


def _write(path: Path, key: str, entries: Sequence[tuple[str, str, str, str]]) -> None:
    """A manifest as :mod:`containerize.resolve.wheelhouse` writes them."""
    data = {
        key: [
            {"name": name, "version": version, "file": filename, "sha256": sha256}
            for name, version, filename, sha256 in sorted(entries)
        ]
    }
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def build_together(
    prepared: Sequence[tuple[str, pipeline.Prepared]], *, shared: BuildFolder
) -> list[report.TargetSummary]:
    """Build every image of every target in *prepared* side by side: one ``docker
    buildx bake`` per builder. Each summary names its target: ``api/gunicorn``."""
    named = [
        (f"{name}-{inv.target}", name, inv) for name, done in prepared for inv in done.invocations
    ]
    by_builder: dict[str | None, list[tuple[str, str, buildx.BuildInvocation]]] = {}
    for entry in named:
        by_builder.setdefault(entry[2].builder, []).append(entry)
    summaries = []
    claim(shared.root)
    for index, entries in enumerate(by_builder.values()):
        start = time.monotonic()
        results = bake.run(
            [(bake_name, inv) for bake_name, _, inv in entries],
            file=shared.metadata / f"docker-bake-{index}.json",
            metadata=shared.metadata / f"bake-{index}.json",
        )
        seconds = time.monotonic() - start
        for (_, name, _), result in zip(entries, results, strict=True):
            summary = report.summarize(result, seconds=seconds)
            summaries.append(replace(summary, server=f"{name}/{summary.server}"))
    return summaries
