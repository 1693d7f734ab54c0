"""The Dockerfile instructions every stage is made of: ``RUN`` lines (offline unless
asked), the wheelhouse and tools mounts, the hash-checked install of a manifest, the
cached apt-get install, and ``LABEL``.

Every value reaches the text through :mod:`containerize.image.escape`; a value no form
can hold is a :class:`~containerize.errors.ConfigError` that names where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from containerize.buildsteps import MOUNT_DIR
from containerize.buildsteps.wheels import FIXED_EPOCH
from containerize.errors import ConfigError
from containerize.image.escape import (
    dockerfile_key,
    dockerfile_stage,
    dockerfile_word,
    shell_command,
    shell_word,
)
from containerize.image.plan import BUILDSTEPS_CONTEXT, TOOLS_CONTEXT, WHEELHOUSE_CONTEXT, BuildPlan

#: Where the wheelhouse and the tools are mounted in an install step.
WHEELHOUSE = "/wheelhouse"
TOOLS = "/tools"
#: Where a value in the plan came from, for error messages.
BASE_IMAGE = "tool.containerize.base-image (pinned in containerize.lock)"
_LABEL_ORIGINS = {
    "org.opencontainers.image.base.digest": BASE_IMAGE,
    "org.opencontainers.image.base.name": BASE_IMAGE,
    "org.opencontainers.image.revision": "the git revision",
    "org.opencontainers.image.source": "tool.containerize.source",
    "org.opencontainers.image.title": "the project name",
    "org.opencontainers.image.version": "the project version",
}

# Debian policy: lowercase letters, digits, '+', '-', '.', starting alphanumeric; so a
# name is never read as an apt-get option.
_DEBIAN_PACKAGE_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# A requirements file inside the wheelhouse folder: one plain file name.
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def run(commands: Sequence[Sequence[str]], *, network: bool, source: str | None = None) -> str:
    prefix = "RUN " if network else "RUN --network=none "
    joined = " \\\n && ".join(shell_command(cmd, source=source) for cmd in commands)
    return prefix + joined


def with_mounts(run_line: str, mounts: Sequence[str]) -> str:
    """*run_line* (a ``RUN --network=none`` line of :func:`run`) with *mounts*
    (``--mount=...`` options) before its others, one to a line."""
    prefix = "RUN --network=none "
    assert run_line.startswith(prefix), run_line
    if not mounts:
        return run_line
    return prefix + "".join(f"{m} \\\n    " for m in mounts) + run_line[len(prefix) :]


def mounts(wheels: str | None = None, *, folder: str | None = None) -> str:
    """The wheelhouse, the tools and the build step scripts, bind-mounted read-only.

    The wheels come from the stage *wheels* (its *folder* alone, when given: BuildKit
    then keys the step on that folder's content), else from the target platform's
    folder of the one wheelhouse context (the compile build)."""
    if wheels is None:
        wheelhouse = (
            f"--mount=type=bind,from={dockerfile_stage(WHEELHOUSE_CONTEXT)},"
            f"source=${{TARGETOS}}-${{TARGETARCH}}${{TARGETVARIANT}},target={WHEELHOUSE}"
        )
    else:
        source = "" if folder is None else f"source={dockerfile_word(folder)},"
        wheelhouse = (
            f"--mount=type=bind,from={dockerfile_stage(wheels)},{source}target={WHEELHOUSE}"
        )
    tools = f"--mount=type=bind,from={dockerfile_stage(TOOLS_CONTEXT)},target={TOOLS}"
    steps = f"--mount=type=bind,source={BUILDSTEPS_CONTEXT},target={MOUNT_DIR}"
    return f"{wheelhouse} \\\n    {tools} \\\n    {steps}"


def install(
    plan: BuildPlan,
    venv: str,
    manifest: str,
    *,
    source: str,
    tools: Sequence[str] = (),
    wheels: str | None = None,
    folder: str | None = None,
    root: str | None = None,
) -> str:
    """Install the wheels *manifest* lists into *venv*, offline, each hash-checked.

    It runs the build platform's Python: installer places the target platform's files
    without running them, and the Python version is checked to be the target's. With
    *folder*, the wheels and *manifest* are that folder of *wheels*'; with *root*, they
    go into that staging root (one layer's), bytecode compiled and timestamps fixed.
    """
    if not _FILE_NAME_RE.fullmatch(manifest):
        raise ConfigError(
            f"{source}: {manifest!r} is not a file name in the wheelhouse",
            hint="a manifest is named by letters, digits, '_', '.' and '-'",
        )
    version = "{}.{}".format(*plan.python_version)
    argv = [
        plan.python, f"{MOUNT_DIR}/wheels.py", "install", "--venv", venv,
        "--wheelhouse", WHEELHOUSE, "--tools", TOOLS, "--python-version", version,
    ]  # fmt: skip
    for tool in tools:
        argv += ["--with", tool]
    if root is not None:
        argv += ["--root", root, "--compile"]
    argv.append(manifest)
    return f"RUN --network=none {mounts(wheels, folder=folder)} \\\n    " + shell_command(
        argv, source=source
    )


def apt_install(packages: Iterable[str], *, source: str, arch: str = "${TARGETARCH}") -> str:
    """An offline-cached apt install; *arch* names the caches (a stage that declares no
    TARGETARCH, to run once for every target, gives its platform's literally)."""
    for package in packages:
        if not _DEBIAN_PACKAGE_RE.fullmatch(package):
            raise ConfigError(
                f"{source}: {package!r} is not a Debian package name",
                hint="Debian package names are lowercase letters, digits, '+', '-' and '.'",
            )
    names = " ".join(shell_word(package, source=source) for package in sorted(set(packages)))
    cache = (
        f"--mount=type=cache,id=containerize-apt-cache-{arch},"
        "target=/var/cache/apt,sharing=locked \\\n    "
        f"--mount=type=cache,id=containerize-apt-lists-{arch},"
        "target=/var/lib/apt/lists,sharing=locked"
    )
    # The cache mounts keep package lists and .debs out of the layer.
    return (
        f"RUN {cache} \\\n"
        "    rm -f /etc/apt/apt.conf.d/docker-clean \\\n"
        " && apt-get update -q \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\\n"
        f"    {names} \\\n"
        # Logs and caches that record when they were written: not in a reproducible layer.
        " && rm -rf /var/log/apt /var/log/dpkg.log /var/log/alternatives.log \\\n"
        "    /var/cache/ldconfig/aux-cache /var/cache/debconf/*-old"
    )


def labels(labels: Sequence[tuple[str, str]]) -> list[str]:
    if not labels:
        return []
    pairs = []
    for key, value in labels:
        origin = _LABEL_ORIGINS.get(key)
        where = f"the label {key}" + (f" (from {origin})" if origin else "")
        pairs.append(
            f"{dockerfile_key(key, source='a label key')}="
            f"{dockerfile_word(value, source=where, always_quote=True)}"
        )
    body = " \\\n      ".join(pairs)
    return [f"LABEL {body}"]


#: Where a files stage gathers the files of one layer, under their paths in the image.
FILES_ROOT = "/files"


def files_stage(
    stage: str, sources: Sequence[tuple[str, str]], *, comment: Sequence[str], python: str
) -> list[str]:
    """A stage on the build platform that gathers files for one layer of the image:
    each source (a bind mount's ``from=...,source=...`` or ``source=...`` part, and the
    folder its contents go to in the image) copied under :data:`FILES_ROOT`, owned by
    root with the source's modes, its Python files compiled by *python* (the builder's,
    the image's version) into checked-hash pycs named as the image's files, every file
    and folder with one fixed timestamp.

    The image runs with PYTHONDONTWRITEBYTECODE as a user who cannot write there, so
    without them every start, and every worker, compiles what it imports again. A
    hash-based pyc holds no timestamp (the same source gives the same bytes; the hash
    seed is fixed for the sets among the constants). Checked, not unchecked: Python
    hashes the source at each import and recompiles when it differs, so an image made
    FROM this one that replaces a source file runs the new file, not the old bytecode.

    The image then copies :data:`FILES_ROOT` onto ``/``: unlike a ``COPY`` from the
    context into a folder, which stamps the folders it makes with the build's date and
    the files with the context's, the layer is the same bytes whenever the files are,
    after a cache miss or a context written afresh."""
    mounts = [
        f"--mount=type=bind,{source},target=/source-{n}" for n, (source, _) in enumerate(sources)
    ]
    commands = [["mkdir", "-p", *(f"{FILES_ROOT}{dest}" for _, dest in sources)]]
    commands += [
        ["cp", "-R", f"/source-{n}/.", f"{FILES_ROOT}{dest}/"]
        for n, (_, dest) in enumerate(sources)
    ]
    lines = [shell_command(cmd) for cmd in commands]
    # A file that does not compile (a template named .py, code for another Python) is
    # left as source, as it was: compileall names it in the log, and the import check,
    # not this step, is what fails a build.
    for _, dest in sources:
        compile_argv = [
            "env", "PYTHONHASHSEED=0", python, "-m", "compileall", "-q", "-j", "0",
            "--invalidation-mode", "checked-hash", "-d", dest, f"{FILES_ROOT}{dest}",
        ]  # fmt: skip
        lines.append("{ " + shell_command(compile_argv) + " || true; }")
    when = f"--date=@{FIXED_EPOCH}"
    lines.append(
        shell_command(["find", FILES_ROOT, "-exec", "touch", "--no-dereference", when, "{}", "+"])
    )
    body = " \\\n && ".join(lines)
    return [
        *(f"# {line}" for line in comment),
        f"FROM builder AS {dockerfile_stage(stage)}",
        "RUN --network=none " + " \\\n    ".join(mounts) + " \\\n    " + body,
        "",
    ]
