"""``release``: build, push by digest, test and tag one image per server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from containerize import config, workspace
from containerize.commands.guards import cache_exports, naming_the_lock, report_leftovers
from containerize.commands.machine import machine
from containerize.commands.testing import matrix_on_digests
from containerize.engine import preflight
from containerize.fsutil import exclusive
from containerize.image import pipeline, revision
from containerize.release import plan as release_plan_mod
from containerize.release import publish


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
    targets: Sequence[str] = (),
) -> int:
    """Build, push by digest, test and tag one multi-platform image per server.

    *test_images* is the test step: called with ``{server: "repo@sha256:..."}`` once
    the images are pushed, it raises to stop the release before any tag moves. By
    default it is the test matrix on those digests; *skip_tests* releases untested.
    In a repository with several targets, each target (of *targets*) is released in
    turn, with its own test step.
    """
    configs = workspace.configs(project, targets, overrides)
    for name, cfg in configs:
        if name:
            print(f"== {name}: {cfg.image} ({cfg.project_dir})", flush=True)
        _release_one(
            cfg,
            dry_run=dry_run,
            force=force,
            provenance=provenance,
            sign_key=sign_key,
            no_cache=no_cache,
            skip_tests=skip_tests,
            test_images=test_images,
            name=name,
        )
    return 0


def _release_one(
    cfg: config.Config,
    *,
    dry_run: bool,
    force: bool,
    provenance: bool,
    sign_key: str | None,
    no_cache: bool,
    skip_tests: bool,
    test_images: publish.TestHook | None,
    name: str,
) -> None:
    if test_images is None and not skip_tests:
        test_images = matrix_on_digests(cfg, target=name)
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
        return
    preflight.preflight(cfg.platforms, builder=cfg.builder, cache_to=cache_exports(cfg))
    target = publish.connect(release_plan)
    here = machine(engine=True)  # the preflight found it
    with exclusive(cfg.build_dir) as leftovers:
        report_leftovers(cfg.build_dir, leftovers, here.cache)
        with naming_the_lock(cfg):
            prepared = pipeline.prepare(cfg, here, output="none", no_cache=no_cache)
        if prepared.wheelhouse is not None:
            print(prepared.wheelhouse.summary())
        result = publish.release(prepared, release_plan, test=test_images, target=target)
    print(result.summary())
