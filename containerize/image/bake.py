"""``docker buildx bake``: several image builds in one buildx invocation.

:func:`bake_file` writes the build invocations as a bake file, for CI that runs bake
(``containerize build --bake FILE``). :func:`run` builds the images of several targets
side by side: one bake file, one ``docker buildx bake``, one BuildKit session that
shares what the builds have in common and runs the rest in parallel.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from containerize import process
from containerize.engine import basepull, buildx, docker
from containerize.engine.buildx import BuildInvocation, BuildResult
from containerize.errors import CommandError, ConfigError
from containerize.fsutil import write_atomic

#: A bake target's name: what bake accepts.
_NAME = re.compile(r"[A-Za-z0-9_-]+")


def bake_file(
    invocations: Sequence[BuildInvocation],
    *,
    names: Sequence[str] | None = None,
    secrets: bool = False,
) -> str:
    """One bake target per invocation, the same builds ``containerize build`` runs.

    Each target is named for its server, or by *names* (one per invocation) when
    several targets have one server each. With *secrets*, each build's secrets are read
    from the environment variables :func:`secret_variables` names (a bake file for CI
    leaves them out: they are the test environment's placeholders, never written down).
    """
    names = list(names) if names is not None else [inv.target or "default" for inv in invocations]
    if len(names) != len(invocations) or len(set(names)) != len(names):
        raise ConfigError(f"bake targets need distinct names, one per build: {names}")
    targets = {}
    for index, (name, inv) in enumerate(zip(names, invocations, strict=True)):
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{name!r} cannot name a bake target (letters, digits, - and _)")
        spec: dict[str, object] = {
            "context": str(inv.context),
            "dockerfile": str(inv.dockerfile),
            "target": inv.target,
            "platforms": [str(p) for p in inv.platforms],
            "tags": list(inv.tags),
            "contexts": {key: str(path) for key, path in inv.build_contexts},
        }
        if inv.labels:
            spec["labels"] = dict(inv.labels)  # the image key, as 'containerize build' sets it
        if inv.cache_from:
            spec["cache-from"] = list(inv.cache_from)
        if inv.cache_to:
            spec["cache-to"] = list(inv.cache_to)
        if inv.no_cache:
            spec["no-cache"] = True
        if secrets and inv.secrets:
            spec["secret"] = [
                f"id={secret_id},env={variable}"
                for (secret_id, _), variable in zip(
                    inv.secrets, _variables(index, inv), strict=True
                )
            ]
        # The same plain images as 'containerize build', which passes --provenance false.
        spec["attest"] = ["type=provenance,disabled=true"]
        if inv.output is not None:
            spec["output"] = ["type=registry"] if inv.output.kind == "push" else ["type=docker"]
        targets[name] = spec
    document = {"group": {"default": {"targets": sorted(targets)}}, "target": targets}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def secret_variables(invocations: Sequence[BuildInvocation]) -> dict[str, str]:
    """The environment a bake file written with ``secrets=True`` reads its secrets from:
    one variable per invocation and secret, so two targets' secrets never mix."""
    found = {}
    for index, inv in enumerate(invocations):
        for (_, text), variable in zip(inv.secrets, _variables(index, inv), strict=True):
            found[variable] = text
    return found


def _variables(index: int, inv: BuildInvocation) -> list[str]:
    return [f"{buildx.secret_variable(secret_id)}_{index}" for secret_id, _ in inv.secrets]


def run(
    named: Sequence[tuple[str, BuildInvocation]], *, file: Path, metadata: Path
) -> list[BuildResult]:
    """Build every invocation of *named* in one ``docker buildx bake``, streaming
    BuildKit's progress; one result per invocation, in order.

    They must share a builder. The bake file is written to *file* and its metadata
    (each target's digest) read from *metadata*.
    """
    invocations = [inv for _, inv in named]
    builders = {inv.builder for inv in invocations}
    if len(builders) != 1:
        raise ConfigError(
            f"one bake runs on one builder, not {sorted(str(b) for b in builders)}",
            hint="build the targets one by one: containerize build NAME",
        )
    names = [name for name, _ in named]
    write_atomic(file, bake_file(invocations, names=names, secrets=True))
    metadata.parent.mkdir(parents=True, exist_ok=True)
    metadata.unlink(missing_ok=True)
    progress = invocations[0].progress
    env = {"DOCKER_BUILDKIT": "1", **secret_variables(invocations)}
    if progress == "auto" and not sys.stderr.isatty():
        env["BUILDKIT_PROGRESS"] = "plain"
    argv = docker.buildx_argv(
        "bake", "--file", str(file), "--progress", progress, "--metadata-file", str(metadata),
        builder=invocations[0].builder,
    )  # fmt: skip
    try:
        basepull.wait()  # a pull of the base begun beside the preparation
        process.run_teed(argv, env=env)
    except CommandError as exc:
        # Explained as one build of every platform: the log names the failing stage.
        every = tuple(dict.fromkeys(p for inv in invocations for p in inv.platforms))
        joined = replace(invocations[0], target=", ".join(names), platforms=every)
        raise buildx.failure(joined, exc) from None
    found = json.loads(metadata.read_text()) if metadata.exists() else {}
    return [_result(inv, found.get(name)) for name, inv in named]


def _result(inv: BuildInvocation, metadata: Mapping[str, object] | None) -> BuildResult:
    metadata = dict(metadata or {})
    digest = metadata.get("containerimage.digest")
    if inv.metadata_file is not None:
        # Where a single build would have left it, for whoever reads it there.
        write_atomic(inv.metadata_file, json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return BuildResult(
        invocation=inv, digest=digest if isinstance(digest, str) else None, metadata=metadata
    )
