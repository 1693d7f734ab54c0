"""Driving ``docker buildx``: build invocations as typed records, argv from one function.

A :class:`BuildInvocation` says everything about one ``docker buildx build``; the
:func:`argv` function is the only place that turns it into command-line arguments, so
the plan can be printed (dry run), exported (bake) and unit-tested exactly as it runs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from containerize import process
from containerize.engine import basepull, buildlog, docker
from containerize.engine.builders import BuilderInfo, parse_ls
from containerize.errors import BuildError, CommandError
from containerize.platforms import Platform

Progress = Literal["auto", "plain", "tty", "quiet"]
#: The target of the build that compiles sdists (containerize.image.plan).
COMPILE_TARGET = "wheels"
# Where a server's image goes: into the engine, to its registry, or nowhere (planning).
OutputKind = Literal["load", "push", "none"]


@dataclass(frozen=True, kw_only=True)
class Output:
    """Where a build's result goes: ``load`` into the engine, ``push``, an OCI layout,
    the files of the result into a local folder (one subfolder per platform, named as
    BuildKit names them: ``linux_amd64``), or only BuildKit's cache (``cacheonly``: a
    build run for its checks)."""

    kind: Literal["load", "push", "oci", "local", "cacheonly"]
    dest: Path | None = None
    rewrite_timestamp: bool = False
    tar: bool = True  # an OCI layout in one tar file; False: a folder

    def argv(self) -> list[str]:
        if self.kind == "load":
            return ["--load"]
        if self.kind == "push":
            return ["--push"]
        if self.kind == "cacheonly":
            return ["--output", "type=cacheonly"]
        if self.kind == "local":
            # Split by platform even when there is one. BuildKit 0.13 (in Debian's
            # dockerd 26) does not for one platform: build() moves its files there.
            return ["--output", f"type=local,dest={self.dest},platform-split=true"]
        parts = ["type=oci", f"dest={self.dest}"]
        if self.rewrite_timestamp:
            parts.append("rewrite-timestamp=true")
        if not self.tar:
            parts.append("tar=false")
        return ["--output", ",".join(parts)]


@dataclass(frozen=True, kw_only=True)
class BuildInvocation:
    """One ``docker buildx build``."""

    context: Path
    dockerfile: Path | None = None
    target: str | None = None
    platforms: tuple[Platform, ...] = ()
    tags: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    build_contexts: tuple[tuple[str, Path], ...] = ()
    output: Output | None = None
    builder: str | None = None
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    progress: Progress = "auto"
    metadata_file: Path | None = None
    provenance: bool = False
    no_cache: bool = False
    #: BuildKit secrets as (id, text): given to buildx through its environment, so
    #: the text is in no file, no argument and no log, and in no image.
    secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def secret_variable(secret_id: str) -> str:
    """The environment variable buildx reads secret *secret_id* from."""
    return "CONTAINERIZE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", secret_id).upper()


def argv(inv: BuildInvocation) -> list[str]:
    """The exact command line for *inv*."""
    args = docker.buildx_argv("build", "--progress", inv.progress, builder=inv.builder)
    if inv.dockerfile is not None:
        args += ["--file", str(inv.dockerfile)]
    if inv.target:
        args += ["--target", inv.target]
    if inv.platforms:
        args += ["--platform", ",".join(str(p) for p in inv.platforms)]
    repeated: list[tuple[str, list[str]]] = [
        ("--tag", list(inv.tags)),
        ("--build-arg", [f"{key}={value}" for key, value in inv.build_args]),
        ("--label", [f"{key}={value}" for key, value in inv.labels]),
        ("--build-context", [f"{name}={path}" for name, path in inv.build_contexts]),
        ("--cache-from", list(inv.cache_from)),
        ("--cache-to", list(inv.cache_to)),
    ]
    for flag, values in repeated:
        for value in values:
            args += [flag, value]
    for secret_id, _ in inv.secrets:
        args += ["--secret", f"id={secret_id},env={secret_variable(secret_id)}"]
    if inv.no_cache:
        args.append("--no-cache")
    # Attestations turn a single-platform image into an index; keep results plain
    # unless asked.
    args += ["--provenance", "true" if inv.provenance else "false"]
    if inv.metadata_file is not None:
        args += ["--metadata-file", str(inv.metadata_file)]
    if inv.output is not None:
        args += inv.output.argv()
    args.append(str(inv.context))
    return args


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """What BuildKit reported about a finished build."""

    invocation: BuildInvocation
    digest: str | None
    metadata: Mapping[str, object]
    log: str = ""  # BuildKit's progress output, when it was captured rather than streamed


def build(inv: BuildInvocation, *, stream: bool = True) -> BuildResult:
    """Run *inv*; with *stream*, BuildKit's progress goes straight to the terminal.
    A pull of the base image begun beside the build's preparation ends first
    (:mod:`~containerize.engine.basepull`)."""
    basepull.wait()
    if inv.metadata_file is not None:
        inv.metadata_file.parent.mkdir(parents=True, exist_ok=True)
        inv.metadata_file.unlink(missing_ok=True)
    # Plain progress when nobody watches a terminal; a stray DOCKER_BUILDKIT=0 in the
    # environment must not turn BuildKit off.
    env = {"DOCKER_BUILDKIT": "1"}
    env.update((secret_variable(secret_id), text) for secret_id, text in inv.secrets)
    if inv.progress == "auto" and not sys.stderr.isatty():
        env["BUILDKIT_PROGRESS"] = "plain"
    try:
        if stream:
            completed = process.run_teed(argv(inv), env=env)
        else:
            completed = process.run(argv(inv), capture=True, env=env)
    except CommandError as exc:
        raise failure(inv, exc) from None
    output = inv.output
    if output is not None and output.kind == "local" and output.dest and len(inv.platforms) == 1:
        split_single_platform(output.dest, inv.platforms[0])
    metadata: dict[str, object] = {}
    if inv.metadata_file is not None and inv.metadata_file.exists():
        metadata = json.loads(inv.metadata_file.read_text())
    digest = metadata.get("containerimage.digest")
    return BuildResult(
        invocation=inv,
        digest=digest if isinstance(digest, str) else None,
        metadata=metadata,
        log=completed.stderr + completed.stdout,
    )


def split_folder(dest: Path, platform: Platform) -> Path:
    """Where a local output in *dest* holds *platform*'s files: ``dest/linux_amd64``."""
    return dest / str(platform).replace("/", "_")


def split_single_platform(dest: Path, platform: Platform) -> None:
    """Move a single platform's files, which the engine left at the top of *dest*, into
    their platform's folder, as a multi-platform export has them."""
    folder = split_folder(dest, platform)
    entries = list(dest.iterdir())
    if entries == [folder] and folder.is_dir():
        return  # the engine split it
    staging = dest / f".{folder.name}.partial"
    staging.mkdir()
    for entry in entries:
        entry.rename(staging / entry.name)
    staging.rename(folder)


def failure(inv: BuildInvocation, exc: CommandError) -> BuildError:
    """*exc*, the failed build of *inv*, explained from its log: the stage, the
    platform, the sdist being compiled, the step's last lines, and the fix when known."""
    found = buildlog.summarize(exc.output, [str(p) for p in inv.platforms])
    what = "the compile build" if inv.target == COMPILE_TARGET else "the build"
    if inv.target and inv.target != COMPILE_TARGET:
        what += f" of {inv.target}"
    if found is None:
        return BuildError(
            f"{what} failed (exit code {exc.returncode}): {process.quote(exc.argv)}",
            argv=exc.argv,
            returncode=exc.returncode,
            lines=exc.output_tail.splitlines()[-12:],
            hint=exc.hint,
        )
    where = [f"stage {found.stage}" if found.stage else "a step"]
    if found.platform:
        where.append(f"for {found.platform}")
    if found.sdist:
        where.append(f"compiling {found.sdist}")
    message = f"{what} failed in {' '.join(where)}"
    if found.step:
        message += f"\n  step: {found.step}"
    diagnosis = found.diagnosis
    return BuildError(
        message,
        argv=exc.argv,
        returncode=exc.returncode,
        lines=found.lines,
        cause=diagnosis.cause if diagnosis else None,
        hint=_fix(found) or exc.hint or "the whole log is above (BuildKit's plain progress)",
    )


#: The fix for a failed import check that no diagnosis explains.
IMPORT_CHECK_FIX = (
    "fix the import, or, if the app cannot load without its services (a database, a "
    "secret), set tool.containerize.import-check = false (or CONTAINERIZE_IMPORT_CHECK=0)"
)


#: The fix for the static command, failed in the import check's step that runs it.
STATIC_COMMAND_FIX = (
    "fix tool.containerize.static.command: it runs in the app folder after the import "
    "check, in the same process, as the app's user, who may write its static folder "
    "(static.dir) and nothing else of the app folder"
)
#: What the import check's step says when the static command it ran failed.
STATIC_COMMAND_FAILED = "containerize: the static command failed"


def _fix(found: buildlog.Failure) -> str | None:
    diagnosis = found.diagnosis
    checks = bool(found.stage and found.stage.startswith("app-"))
    # The app-<server> stages hold the import check and, in the first server's, the
    # static command after it (containerize.image.checkedstatic): nothing else fails.
    # The command's own failure is the command's to fix, unless a library is missing.
    static = checks and any(STATIC_COMMAND_FAILED in line for line in found.lines)
    if static and (diagnosis is None or diagnosis.package is None):
        return STATIC_COMMAND_FIX
    if diagnosis is None:
        return IMPORT_CHECK_FIX if checks else None
    if diagnosis.package is None:
        return diagnosis.fix
    name = found.python_package
    if name is None:
        return (
            f"install the Debian package {diagnosis.package} to build: "
            f'[tool.containerize.system-packages] build = ["{diagnosis.package}"]'
        )
    return (
        f"{name} needs the Debian package {diagnosis.package} to compile; declare it in "
        f"pyproject.toml:\n\n[tool.containerize.system-packages.sdists]\n"
        f'{name} = {{ build = ["{diagnosis.package}"] }}\n'
    )


def inspect_builder(builder: str | None = None) -> str:
    """The text of ``docker buildx inspect`` for *builder* (the current one if None)."""
    return docker.buildx("inspect", *([builder] if builder else []), timeout=60).stdout


def list_builders() -> tuple[BuilderInfo, ...]:
    """Every builder the docker CLI knows (``docker buildx ls --format json``); none
    when it cannot say."""
    listed = docker.buildx("ls", "--format", "json", check=False, timeout=60)
    return parse_ls(listed.stdout) if listed.returncode == 0 else ()


def current_context() -> str | None:
    """The docker context the CLI uses (``DOCKER_CONTEXT``, else the chosen one); None
    when the CLI cannot say."""
    result = docker.run("context", "show", check=False, timeout=30)
    return result.stdout.strip() or None if result.returncode == 0 else None


def imagetools_inspect(ref: str, *, builder: str | None = None) -> Mapping[str, object] | None:
    """The raw manifest of *ref* in its registry, or None when it does not exist."""
    result = docker.buildx(
        "imagetools", "inspect", "--raw", ref, builder=builder, check=False, timeout=60
    )
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
