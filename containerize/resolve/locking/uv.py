"""uv, the resolver: its binary (from containerize's tools lock, by hash), its command
line, and its environment, which carries the user's index configuration and
credentials (never the logged command line)."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from packaging.tags import Tag, sys_tags
from packaging.utils import canonicalize_name

from containerize import process
from containerize.errors import CommandError, ConfigError, LockError
from containerize.project import ProjectMetadata
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FileRequest, fetch
from containerize.resolve.lock.model import Lock, LockedPackage, LockIndex
from containerize.resolve.lock.pipenv import read_pipfile
from containerize.resolve.locking.inputs import requirements_text
from containerize.resolve.locking.request import LockRequest, relative
from containerize.resolve.pipconfig import Credentials, IndexSettings, redact_text

#: The resolver, as containerize's tools lock names it.
UV = canonicalize_name("uv")


def ensure_uv(
    settings: IndexSettings, cache: Cache, *, tool_lock: Lock, tags: Sequence[Tag] | None = None
) -> Path:
    """The uv binary of containerize's tools lock, for this machine.

    Its wheel (the one whose tags this machine accepts first) is fetched by name and
    hash into the download cache like any locked file, and its ``uv`` executable
    unpacked once beside it (``<cache>/tools/uv-<version>-<hash>/uv``), atomically.
    """
    found = tool_lock.find(UV)
    if len(found) != 1:
        raise LockError(f"{tool_lock.path.name}: uv is not locked", hint="report this")
    (package,) = found
    accepted = list(tags if tags is not None else sys_tags())
    rank = {tag: i for i, tag in enumerate(accepted)}
    wheels = [w for w in package.wheels if w.tags & rank.keys()]
    if not wheels:
        raise LockError(
            f"containerize's tools lock has no uv wheel for this machine ({os.uname().machine})",
            hint="install uv 0.13.9 yourself and pass it with --uv PATH",
        )
    wheel = min(wheels, key=lambda w: min(rank[t] for t in w.tags if t in rank))
    target = cache.root / "tools" / f"uv-{package.version}-{wheel.sha256[:16]}" / "uv"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    request = FileRequest(
        name=package.name, version=str(package.version), filename=wheel.filename,
        sha256=wheel.sha256, size=wheel.size,
    )  # fmt: skip
    report = fetch([request], settings=settings, cache=cache)
    _unpack_uv(report.path(wheel.filename), target, package)
    return target


def _unpack_uv(wheel: Path, target: Path, package: LockedPackage) -> None:
    member = f"uv-{package.version}.data/scripts/uv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(member)
        except KeyError:
            raise LockError(
                f"{wheel.name} holds no {member}", hint="report this: the tools lock is wrong"
            ) from None
    partial = target.with_name(f".uv-{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    partial.replace(target)


def uv_argv(uv: Path, request: LockRequest, *, sources: Sequence[str], output: Path) -> list[str]:
    """The one ``uv pip compile`` that resolves *request* into *output*."""
    assert request.python is not None, "the Python is chosen before uv runs"
    argv = [
        str(uv), "pip", "compile", *sources,
        "--universal", "--python-version", "{}.{}".format(*request.python),
        "--format", "pylock.toml", "--generate-hashes", "--no-header", "--no-config",
        "--index-strategy", "unsafe-best-match", "--quiet", "--output-file", str(output),
    ]  # fmt: skip
    if request.upgrade_all:
        argv.append("--upgrade")
    for name in request.upgrade:
        argv.extend(["--upgrade-package", name])
    return argv


def uv_environment(settings: IndexSettings, extra: Sequence[LockIndex] = ()) -> dict[str, str]:
    """The user's index configuration for uv: the first index as uv's default, the
    others and *extra* (a Pipfile's sources) after it, find-links, the CA bundle,
    netrc and timeout. Credentials go here, not on the logged command line."""
    # A universal resolution needs no interpreter of the Python it resolves for:
    # never let uv download one (it would wait out a timeout where it cannot).
    env: dict[str, str] = {
        "UV_INDEX": "",
        "UV_FIND_LINKS": "",
        "UV_NO_PROGRESS": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    indexes = [_with_credentials(i.url, i.credentials) for i in settings.indexes]
    indexes += [i.url for i in extra if i.url not in indexes]
    if settings.no_index:
        env["UV_NO_INDEX"] = "1"
    elif not indexes:
        raise ConfigError(
            "no package index is configured to lock against",
            hint="set index-url in pip.conf, or PIP_INDEX_URL",
        )
    if indexes and not settings.no_index:
        # uv searches its --index entries in order and its default index last; with
        # unsafe-best-match (pip's way: the best version on any index) a version on
        # several indexes is taken from the first. So every index goes in pip's order,
        # the primary first, and the default is the primary again (else uv's own).
        env["UV_DEFAULT_INDEX"] = indexes[0]
        env["UV_INDEX"] = " ".join(indexes)
    links = [_with_credentials(f.url, f.credentials) for f in settings.find_links]
    env["UV_FIND_LINKS"] = ",".join(links)
    if settings.cert is not None:
        env["SSL_CERT_FILE"] = str(settings.cert)
    if settings.netrc is not None:
        env["NETRC"] = str(settings.netrc)
    env["UV_HTTP_TIMEOUT"] = str(max(1, round(settings.timeout)))
    return env


def _with_credentials(url: str, credentials: Credentials | None) -> str:
    if credentials is None:
        return url
    parts = urlsplit(url)
    user = quote(credentials.username, safe="")
    netloc = f"{user}:{quote(credentials.password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def uv_version(uv: Path) -> str:
    """The version ``uv --version`` reports."""
    out = process.run([str(uv), "--version"], timeout=60).stdout.split()
    return out[1] if len(out) >= 2 else "?"


def run_uv(
    request: LockRequest,
    *,
    uv: Path,
    settings: IndexSettings,
    project: ProjectMetadata | None,
    previous: Lock | None,
    output: Path,
) -> None:
    """One resolution of *request* by uv into *output* (uv's own text), in a folder
    of its own; the previous lock is uv's preference: pins it still allows stay."""
    extra_sources: tuple[LockIndex, ...] = ()
    if request.inputs.kind == "pipfile":
        extra_sources = read_pipfile(request.inputs.files[0]).sources
    env = uv_environment(settings, extra_sources)
    if previous is not None:
        shutil.copyfile(previous.path, output)
    text = requirements_text(request, project)
    if text is None:
        sources = [relative(f, request.project_dir) for f in request.inputs.files]
    else:
        (output.parent / "requirements.in").write_text(text)
        sources = [str(output.parent / "requirements.in")]
    if request.inputs.folders:
        # Each folder by its absolute path: uv builds its metadata for its requirements
        # and writes it as a [packages.directory] entry (relative to the output, which
        # containerize rewrites relative to the project).
        (output.parent / "local.in").write_text(
            "".join(f"{folder.resolve()}\n" for folder in request.inputs.folders)
        )
        sources.append(str(output.parent / "local.in"))
    # A setup.py's metadata is built in its folder: the .egg-info setuptools leaves
    # there is removed again, unless it was there before.
    folders = {request.project_dir.resolve(), *(f.resolve() for f in request.inputs.folders)}
    before = {p for folder in folders for p in folder.glob("*.egg-info")}
    try:
        process.run(
            uv_argv(uv, request, sources=sources, output=output),
            cwd=request.project_dir,
            env=env,
            timeout=900,
        )
    except CommandError as exc:
        said = "\n".join(f"    {line}" for line in redact_text(exc.output.strip()).splitlines())
        raise LockError(
            f"{request.inputs.shown(request.project_dir)} cannot be locked: uv "
            f"(exit code {exc.returncode}) says:\n{said}",
            hint="change the requirements uv names (or the index configuration, if a "
            "package is missing from it), then run 'containerize lock' again; "
            f"{request.output.name} is unchanged",
        ) from None
    finally:
        for left in {p for folder in folders for p in folder.glob("*.egg-info")} - before:
            if left.is_dir() and not left.is_symlink():
                shutil.rmtree(left, ignore_errors=True)
