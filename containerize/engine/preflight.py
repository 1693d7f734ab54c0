"""Checks before a build starts: stop early, with the fix, instead of failing halfway.

A daemon that does not answer, a platform the builder cannot run, a cache export its
driver cannot do, a multi-platform load into an image store that cannot hold it: each
is an :class:`~containerize.errors.EngineError` that names the cause, not a symptom.
"""

from __future__ import annotations

from collections.abc import Sequence

from containerize.engine import basepull, builders, buildx, probes
from containerize.engine.builders import BuilderInfo, parse_inspect
from containerize.engine.buildx import OutputKind
from containerize.errors import CommandError, EngineError
from containerize.platforms import Platform


def require_daemon() -> None:
    """Stop, with the fix, when no Docker daemon answers."""
    if not probes.daemon_reachable():
        raise EngineError(
            "no Docker daemon answers",
            hint="start dockerd or set DOCKER_HOST ('containerize doctor' checks everything; "
            "as root on Debian, 'containerize engine up' provisions one)",
        )


def preflight(
    platforms: Sequence[Platform], *, builder: str | None, cache_to: Sequence[str] = ()
) -> None:
    """Stop before a build that cannot work on this engine."""
    try:
        info = parse_inspect(buildx.inspect_builder(builder))
    except CommandError as exc:
        require_daemon()
        if builder and f'no builder "{builder}" found' in exc.output_tail:
            raise EngineError(
                f"there is no buildx builder named {builder!r}"
                + builders.missing(builder, buildx.list_builders()),
                hint="'docker buildx ls' lists the builders this docker CLI knows; create it "
                f"('docker buildx create --name {builder} ...', or 'docker context create' for "
                "an engine on another host), or name another one with --builder, "
                "tool.containerize.builder or CONTAINERIZE_BUILDER",
            ) from None
        raise EngineError(
            f"the buildx builder {builder or 'default'!r} is not usable",
            hint="run 'containerize doctor'\n" + exc.output_tail,
        ) from None
    if info.error or not info.platforms:
        # Asked only now: on the way to a build, one command answers both questions
        # (buildx reports an unreachable daemon as an Error line, and exits 0).
        require_daemon()
        raise EngineError(
            f"the buildx builder {info.name!r} is not usable: {info.error or 'no platforms'}",
            hint="run 'containerize doctor'",
        )
    _require_current_context(info, builder)
    basepull.remember_driver(builder, info.driver)
    missing = [p for p in platforms if str(p) not in info.platforms]
    if missing:
        names = ", ".join(str(p) for p in missing)
        nodes = "; ".join(node.describe() for node in info.nodes)
        raise EngineError(
            f"builder {info.name!r} cannot build for {names}: no native node and no emulator"
            + (f" (its nodes: {nodes})" if nodes else ""),
            hint="register qemu emulation (on Debian: apt-get install qemu-user-static "
            "binfmt-support; update-binfmts --enable qemu-aarch64), or pass --builder with "
            "a node native to it; 'containerize doctor' shows the details",
        )
    exports = sorted({s for s in cache_to if not s.startswith("type=inline")})
    if info.driver == "docker" and exports and not probes.containerd_image_store():
        # BuildKit inside dockerd exports caches only through containerd's content store.
        raise EngineError(
            f"builder {info.name!r} uses the docker driver on an engine without the "
            f"containerd image store, which cannot export a build cache "
            f"({', '.join(exports)})",
            hint="enable the containerd image store "
            '({"features": {"containerd-snapshotter": true}} in /etc/docker/daemon.json, '
            "then restart dockerd), or build with a docker-container or remote builder "
            "('docker buildx create --name ci --driver docker-container', then --builder ci), "
            "or keep the cache in the image with --cache-to type=inline",
        )


def _require_current_context(info: BuilderInfo, builder: str | None) -> None:
    """The ``docker`` driver builds only on the current docker context's engine: a
    builder named after another context stops here, not in the middle of a build."""
    if not builder or info.driver != "docker":
        return
    current = buildx.current_context()
    if current is None or builder == current:
        return
    raise EngineError(
        f"builder {builder!r} is the docker driver of the docker context {builder!r}, "
        f"which is not the current one ({current!r}): buildx builds only on the current "
        "context's engine with that driver",
        hint=f"run with DOCKER_CONTEXT={builder} (the build, and the test matrix after it, "
        f"then use that engine), or 'docker context use {builder}'; or make a builder of "
        f"another driver on it ('docker buildx create --name NAME --driver docker-container "
        f"{builder}', then --builder NAME)",
    )


def choose_output(platforms: Sequence[Platform], *, push: bool) -> OutputKind:
    """``push`` when asked; else ``load``, if the engine can hold what is built."""
    if push:
        return "push"
    if len(platforms) > 1 and not probes.containerd_image_store():
        raise EngineError(
            "this engine's image store cannot load a multi-platform image "
            f"({', '.join(map(str, platforms))})",
            hint="build with --push, or one platform at a time with --platform, or enable "
            'the containerd image store ({"features": {"containerd-snapshotter": true}} in '
            "/etc/docker/daemon.json)",
        )
    return "load"
