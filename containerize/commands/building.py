"""The build side: ``wheelhouse``, ``build`` (of the project or of its targets, or
its plan alone) and ``list`` (the targets a build would build)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from containerize import config, process, reference, workspace
from containerize.buildfolder import BuildFolder
from containerize.commands.guards import cache_exports, naming_the_lock, report_leftovers, say
from containerize.commands.machine import in_ci, machine
from containerize.engine import basepull, buildx, docker, preflight
from containerize.engine.buildx import OutputKind
from containerize.errors import ConfigError, RegistryError
from containerize.fsutil import check_claimable, exclusive, write_atomic
from containerize.image import batch, buildkey, pins, pipeline, report
from containerize.image import dockerfile as dockerfile_mod
from containerize.image.bake import bake_file
from containerize.registry.client import Registry


def wheelhouse(project: Path, *, overrides: Mapping[str, Any]) -> int:
    """Fetch the wheelhouse for every configured platform and print a summary.

    It writes the wheelhouse only: no build context, no pin file.
    """
    cfg = config.load(project, overrides=overrides)
    here = machine()
    check_claimable(cfg.build_dir)
    with naming_the_lock(cfg):
        # Everything is read and checked before the build folder is touched.
        resolved = pipeline.resolve(cfg, here, record_pin=False)
        with exclusive(cfg.build_dir) as leftovers:
            report_leftovers(cfg.build_dir, leftovers, here.cache)
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
    rebuild: bool = False,
) -> int:
    """Render, and unless told otherwise build, one image per server: of the project,
    or of each target of a repository with several (:mod:`containerize.workspace`).
    With *rebuild*, an image whose key matches the one already there is built anyway
    (through BuildKit and its cache, unlike *no_cache*)."""
    configs = workspace.configs(project, targets, overrides, changed_since_ref=changed_since)
    if print_dockerfile and len(configs) > 1:
        raise ConfigError(
            "--print-dockerfile prints one Dockerfile: name one target",
            hint=f"containerize build --print-dockerfile {configs[0][0]}",
        )
    if len(configs) > 1 and not (dry_run or print_dockerfile or bake is not None):
        _build_together(
            project, configs, push=push, refresh_base=refresh_base, no_cache=no_cache,
            skip_unchanged=not rebuild,
        )  # fmt: skip
        return 0
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
            skip_unchanged=not rebuild,
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
    skip_unchanged: bool = True,
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
    preflight.preflight(cfg.platforms, builder=cfg.builder, cache_to=cache_exports(cfg))
    # A base pinned in containerize.lock: an empty engine pulls it from now on.
    early = None if refresh_base else basepull.recorded(cfg.base_image, pins.read(cfg.pins_file))
    if early is not None:
        basepull.start(early, cfg.platforms, builder=cfg.builder)
    output = preflight.choose_output(cfg.platforms, push=push)
    here = machine(engine=True)  # the preflight found it
    with exclusive(cfg.build_dir) as leftovers:
        report_leftovers(cfg.build_dir, leftovers, here.cache)
        with naming_the_lock(cfg):
            prepared = pipeline.prepare(
                cfg,
                here,
                output=output,
                refresh_base=refresh_base,
                no_cache=no_cache,
                # In CI a build uses what is committed, or stops: it records nothing.
                record_build_requirements=None if in_ci() else say,
                # Compared with the image already there: the same key, no build.
                unchanged=None if no_cache or not skip_unchanged else unchanged_check(output),
            )
        _say_unchanged(prepared, output)
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
        summaries = pipeline.build(
            prepared.invocations, retag=registry_retag if output == "push" else None
        )
    print("\nbuilt:")
    print(report.lines(summaries))


def unchanged_check(output: OutputKind) -> buildkey.Unchanged | None:
    """Where a build with *output* finds the image it would replace, to compare keys:
    the registry for ``push``, the engine's image store for ``load``."""
    checks: dict[OutputKind, buildkey.Unchanged] = {
        "push": registry_unchanged,
        "load": local_unchanged,
    }
    return checks.get(output)


def _build_together(
    root: Path,
    configs: Sequence[tuple[str, config.Config]],
    *,
    push: bool,
    refresh_base: bool,
    no_cache: bool,
    skip_unchanged: bool = True,
) -> None:
    """Build several targets sharing the work: one fetch into the download cache, one
    compile build for every target's sdists, then every image side by side in one
    ``docker buildx bake`` (:mod:`containerize.image.batch`)."""
    shared = batch.shared_folder(root.resolve() / ".containerize")
    for _, cfg in configs:
        check_claimable(cfg.build_dir)
    check_claimable(shared.root)
    checked = set()
    for _, cfg in configs:
        if (cfg.platforms, cfg.builder) not in checked:
            preflight.preflight(cfg.platforms, builder=cfg.builder, cache_to=cache_exports(cfg))
            checked.add((cfg.platforms, cfg.builder))
    here = machine(engine=True)  # the preflight found it
    record = None if in_ci() else say
    prepared: list[tuple[str, pipeline.Prepared]] = []
    with ExitStack() as held:
        for _, cfg in configs:
            report_leftovers(
                cfg.build_dir, held.enter_context(exclusive(cfg.build_dir)), here.cache
            )
        held.enter_context(exclusive(shared.root))
        outputs = {name: preflight.choose_output(cfg.platforms, push=push) for name, cfg in configs}
        # Each image's key is asked of the registry once, here and in prepare alike.
        asked: dict[tuple[str, str], str | None] = {}

        def unchanged(tag: str, key: str) -> str | None:
            if (tag, key) not in asked:
                asked[tag, key] = registry_unchanged(tag, key)
            return asked[tag, key]

        skip = skip_unchanged and not no_cache

        def check(name: str) -> buildkey.Unchanged | None:
            return None if not skip else unchanged if outputs[name] == "push" else local_unchanged

        compiled = batch.compile_together(
            configs,
            here,
            shared=shared,
            no_cache=no_cache,
            record_build_requirements=record,
            unchanged=None if not skip else unchanged if push else local_unchanged,
        )
        for line in compiled.lines():
            print(line)
        for name, cfg in configs:
            print(f"== {name}: {cfg.image} ({cfg.project_dir})", flush=True)
            with naming_the_lock(cfg):
                done = pipeline.prepare(
                    cfg,
                    here,
                    output=outputs[name],
                    refresh_base=refresh_base,
                    no_cache=no_cache,
                    record_build_requirements=record,
                    unchanged=check(name),
                )
            _say_unchanged(done, outputs[name], alone=False)
            if not done.invocations:
                continue
            if done.wheelhouse is not None:
                print(done.wheelhouse.summary())
            for line in done.system_packages:
                print(line)
            prepared.append((name, done))
        if not prepared:
            print(
                "\nnothing to build: every image of every target has the key of what it "
                "would be built from (--rebuild builds anyway)"
            )
            return
        names = [f"{name}/{inv.target}" for name, done in prepared for inv in done.invocations]
        print(f"\nbuilding side by side (docker buildx bake): {', '.join(names)}", flush=True)
        summaries = batch.build_together(prepared, shared=shared)
    print("\nbuilt:")
    print(report.lines(summaries))


def _say_unchanged(prepared: pipeline.Prepared, output: str, *, alone: bool = True) -> None:
    """One line per image left out; with *alone* (one project), why nothing is built
    when every image is."""
    where = "the registry's image" if output == "push" else "the image in the engine's store"
    for server, digest in prepared.unchanged:
        print(f"{server}: unchanged since {digest} ({where} has the same key)")
    if alone and prepared.unchanged and not prepared.invocations:
        print(
            "nothing to build: every image has the key of what it would be built from "
            "(--rebuild builds anyway)"
        )


def local_unchanged(tag: str, key: str) -> str | None:
    """The id of the image *tag* names in the engine's image store when its labels
    carry *key*; None when the store has no such image or it was built from other
    inputs."""
    found = docker.run(
        "image", "inspect", "--format", "{{.Id}} {{json .Config.Labels}}", tag,
        check=False, timeout=60,
    )  # fmt: skip
    if found.returncode != 0:
        return None
    digest, _, raw = found.stdout.strip().partition(" ")
    try:
        labels = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(labels, dict) or labels.get(buildkey.KEY_LABEL) != key:
        return None
    return digest


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


def registry_retag(pushed: str, tags: Sequence[str]) -> None:
    """Name the image *pushed* (``name:tag@digest``) under each of *tags*, in the same
    repository: its manifest is read once and put under every tag, no layer moves."""
    ref = reference.parse(pushed, where="image")
    repository = replace(ref, tag=None, digest=None)
    registry = Registry(repository)
    found = registry.manifest(ref.digest or ref.tag or "latest", what=f"reading {pushed}")
    if found is None:
        raise RegistryError(
            f"{pushed} is not in its registry right after it was pushed",
            hint="build again; if it happens again, check the registry's storage",
        )
    for tag in tags:
        other = reference.parse(tag, where="image")
        if replace(other, tag=None, digest=None) != repository or not other.tag:
            raise RegistryError(
                f"{tag} is not a tag of {repository}, where {pushed} was pushed",
                hint="every tag of one image names the same repository",
            )
        registry.put_manifest(other.tag, found.data, found.media_type, what=f"tagging {tag}")


def _show_plan(prepared: pipeline.Prepared, *, dockerfile_only: bool) -> None:
    if dockerfile_only:
        print(prepared.dockerfile, end="")
        return
    for notice in prepared.notices:
        print(notice)
    for line in prepared.plan.layers.lines():
        print(f"# {line}")
    print(f"# Dockerfile ({prepared.folder.dockerfile})")
    print(prepared.dockerfile)
    print("# buildx commands")
    if prepared.compile is not None:
        print(f"# first, {dockerfile_mod.COMPILE_NOTE}")
        print(process.quote(buildx.argv(prepared.compile)))
    for inv in prepared.invocations:
        print(process.quote(buildx.argv(inv)))


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
