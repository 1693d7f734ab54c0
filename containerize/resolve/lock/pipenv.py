"""Read ``Pipfile.lock`` (``pipfile-spec`` 6), as ``pipenv lock`` writes it.

The file is JSON. Only the ``default`` section goes into an image: ``develop`` (and
any custom category) is for the developer's machine. Each entry pins one version
(``"version": "==5.2.1"``) with the sha256 of every file it accepts and, usually, a
marker; it names no files and records no dependency graph, so the lock is a flat list
like a hashed requirements file (:attr:`Lock.has_graph` is false) whose hashes are
named from the index before selection
(:func:`~containerize.resolve.filenames.name_files`).

``_meta.requires`` gives the Python (``python_full_version`` ``3.11.4`` or
``python_version`` ``3.11``), which becomes the lock's ``requires-python``.
``_meta.sources`` are the indexes the lock was made against; they are searched after
the user's own pip configuration, like a requirements file's ``--index-url``. As
pipenv does, ``${VAR}`` and ``$VAR`` in their URLs are taken from the environment, so
credentials stay out of the file.

A ``Pipfile`` beside the lock is checked against ``_meta.hash`` the way pipenv checks
it (:func:`pipfile_hashes`): a lock older than its ``Pipfile`` is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from containerize.errors import LockError
from containerize.resolve.lock.localdir import local_package, read_static
from containerize.resolve.lock.model import (
    IndexOption,
    Lock,
    LockedPackage,
    LockIndex,
    sort_packages,
)
from containerize.resolve.pipconfig import pip_default_index_url
from containerize.tables import Table

PIPFILE = "Pipfile"
_HINT = "the lock file is damaged or was edited by hand; regenerate it with 'pipenv lock'"
_SHA256 = re.compile(r"^sha256:([0-9a-fA-F]{64})$")
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
#: Entries that are not installed from an index: refused, except local folders
#: (``path``), which are built into wheels.
_LOCAL_KEYS = ("path", "file", "git", "hg", "svn", "bzr")
# Pipfile sections that are not package categories (see plette's PIPFILE_SECTIONS).
_NOT_CATEGORIES = frozenset(
    {"source", "packages", "dev-packages", "requires", "scripts", "pipfile", "pipenv"}
)


def read_pipfile_lock(path: Path, environ: Mapping[str, str] = os.environ) -> Lock:
    """Read a ``Pipfile.lock`` into a :class:`Lock`; *environ* expands source URLs."""
    top = Table(data=_load_json(path), where="", file=path, hint=_HINT)
    meta = top.table("_meta")
    spec = meta.raw("pipfile-spec")
    if spec is not None and spec != 6:
        meta.fail("pipfile-spec", f"pipfile-spec {spec!r} is not supported (containerize reads 6)")
    default = top.table("default")
    packages = [
        package
        for key, _ in default.items()
        if (package := _read_package(default.table(key), key)) is not None
    ]
    hash_table = meta.opt_table("hash")
    project_package = next((p.name for p in packages if p.local == "."), None)
    return Lock(
        path=path,
        format="pipenv",
        packages=sort_packages(packages),
        requires_python=_requires_python(meta),
        content_hash=None if hash_table is None else hash_table.opt_string("sha256"),
        has_graph=False,
        generator="pipenv",
        indexes=_indexes(meta, environ),
        project_package=project_package,
    )


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror}", hint=_HINT) from None
    except UnicodeDecodeError as exc:
        raise LockError(f"{path}: not UTF-8 text (byte {exc.start})", hint=_HINT) from None
    except json.JSONDecodeError as exc:
        raise LockError(
            f"{path.name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            hint=_HINT,
        ) from None
    if not isinstance(data, dict):
        raise LockError(f"{path.name}: expected a JSON object at the top", hint=_HINT)
    return data


def _read_package(entry: Table, key: str) -> LockedPackage | None:
    try:
        name = canonicalize_name(key, validate=True)
    except ValueError:
        entry.fail(None, f"{key!r} is not a valid package name")
    if "path" in entry:
        return _read_local(entry, name)
    local = next((k for k in _LOCAL_KEYS if k in entry), None)
    if local is not None:
        entry.fail(
            local,
            f"{name} comes from {local} {entry.raw(local)!r}: an image installs only files "
            "pinned by name, version and hash from an index (publish it to an index and "
            "name it with a version in the Pipfile's [packages])",
        )
    if entry.opt_bool("editable"):
        entry.fail("editable", f"{name} is editable: an image installs only pinned files")
    version = _version(entry, name)
    hashes = _hashes(entry, name)
    return LockedPackage(
        name=name,
        version=version,
        marker=entry.marker("markers"),
        unnamed_hashes=hashes,
        source_name=entry.opt_string("index"),
    )


def _read_local(entry: Table, name: NormalizedName) -> LockedPackage | None:
    """A ``"path"`` entry (``pipenv install -e .`` writes ``{"editable": true, "path":
    "."}``): a local package, built into a wheel from its folder (relative to the
    lock's) and installed as a wheel, never editable. The project's own folder when it
    is no package (a tool-only ``pyproject.toml``) is left to the build context."""
    folder = entry.string("path")
    lock_path = entry.file
    if folder in (".", "./") and not read_static(lock_path.parent).buildable:
        return None
    version = _version(entry, name) if "version" in entry else None
    package = local_package(
        lock_path=lock_path,
        folder=Path(folder),
        where=f"{lock_path.name}: {entry.path('path')}",
        name=name,
        version=version,
    )
    return replace(package, marker=entry.marker("markers"))


def _version(entry: Table, name: str) -> Version:
    if "version" not in entry:
        entry.fail(None, f"missing 'version': {name} is not pinned")
    text = entry.string("version")
    if not text.startswith("==") or text.startswith("==="):
        entry.fail("version", f"{text!r} pins no single version (expected '==X.Y')")
    try:
        return Version(text[2:].strip())
    except InvalidVersion:
        entry.fail("version", f"{text!r} is not a valid version")


def _hashes(entry: Table, name: str) -> tuple[str, ...]:
    if not entry.array("hashes"):
        entry.fail(
            "hashes",
            f"{name} has no hashes: containerize installs only hash-verified files",
        )
    found = []
    for i, text in enumerate(entry.string_array("hashes")):
        match = _SHA256.match(text)
        if match is None:
            entry.child("hashes").fail(i, f"{text!r} is not a sha256:HEX hash")
        found.append(match[1].lower())
    return tuple(sorted(set(found)))


def _requires_python(meta: Table) -> SpecifierSet | None:
    requires = meta.opt_table("requires")
    if requires is None:
        return None
    for key, template in (("python_full_version", "=={}"), ("python_version", "=={}.*")):
        text = requires.opt_string(key)
        if text is None:
            continue
        try:
            return SpecifierSet(template.format(text.strip()))
        except InvalidSpecifier:
            requires.fail(key, f"{text!r} is not a Python version")
    return None


def _indexes(meta: Table, environ: Mapping[str, str]) -> tuple[LockIndex, ...]:
    found = []
    for position, source in enumerate(meta.tables("sources")):
        raw = source.string("url")
        url = _expand(source, raw, environ)
        found.append(
            LockIndex(option=_option(position), url=url, origin=f"{meta.file.name}: {source.where}")
        )
    return tuple(found)


def _option(position: int) -> IndexOption:
    """The first source is the lock's index, the others extra ones (all are searched
    after the user's own configuration)."""
    return "index-url" if position == 0 else "extra-index-url"


def _expand(source: Table, url: str, environ: Mapping[str, str]) -> str:
    """*url* with ``${VAR}``/``$VAR`` replaced from *environ*, as pipenv expands them."""

    def value(match: re.Match[str]) -> str:
        variable = match["braced"] or match["bare"]
        if variable not in environ:
            source.fail(
                "url",
                f"the index URL uses ${{{variable}}}, which is not set in the environment",
            )
        return environ[variable]

    return _VARIABLE.sub(value, url)


def pipfile_hashes(pipfile: Path) -> frozenset[str]:
    """The ``_meta.hash.sha256`` values pipenv would write for *pipfile*.

    plette's ``Pipfile.get_hash`` hashes the sources, ``requires`` and every package
    category as compact, key-sorted JSON; pipenv 2024.1 and later hash the package
    names of each category in their normalized form. A lock written by either is
    fresh, so both are returned.
    """
    try:
        data = tomllib.loads(pipfile.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise LockError(f"{pipfile}: cannot read: {exc.strerror}", hint=_HINT) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockError(
            f"{pipfile.name}: not valid TOML: {exc}", hint="fix the Pipfile, then 'pipenv lock'"
        ) from None
    sources = data.get("source") or _default_sources()
    hashes = set()
    for normalize in (False, True):

        def section(values: object, *, normalize: bool = normalize) -> object:
            if not normalize or not isinstance(values, dict):
                return values
            return {canonicalize_name(k): v for k, v in values.items()}

        content: dict[str, object] = {
            "_meta": {"sources": sources, "requires": data.get("requires", {})},
            "default": section(data.get("packages", {})),
            "develop": section(data.get("dev-packages", {})),
        }
        for category, values in data.items():
            if category not in _NOT_CATEGORIES and category not in ("default", "develop"):
                content[category] = section(values)
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        hashes.add(hashlib.sha256(text.encode("utf-8")).hexdigest())
    return frozenset(hashes)


def _default_sources() -> list[dict[str, object]]:
    """The source pipenv adds to a Pipfile that names none: pip's default index,
    written as plette writes it (no trailing slash)."""
    url = pip_default_index_url().rstrip("/")
    return [{"name": "pypi", "url": url, "verify_ssl": True}]


#: Pipfile keys of a package table that are PEP 508 marker variables.
_MARKER_KEYS = (
    "os_name", "sys_platform", "platform_machine", "platform_python_implementation",
    "platform_release", "platform_system", "platform_version", "python_version",
    "python_full_version", "implementation_name", "implementation_version",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class PipfileInput:
    """What ``containerize lock`` resolves from a ``Pipfile``: the ``[packages]`` as
    PEP 508 requirements, the Python of ``[requires]``, and the ``[[source]]`` URLs."""

    requirements: tuple[str, ...]
    python: str | None
    sources: tuple[LockIndex, ...]


def read_pipfile(path: Path, environ: Mapping[str, str] = os.environ) -> PipfileInput:
    """Read a ``Pipfile``'s ``[packages]`` (never ``[dev-packages]``) as requirements."""
    hint = "fix the Pipfile (see pipenv's documentation of [packages])"
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror}", hint=hint) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockError(f"{path.name}: not valid TOML: {exc}", hint=hint) from None
    top = Table(data=data, where="", file=path, hint=hint)
    packages = top.opt_table("packages")
    requirements = []
    for key, value in [] if packages is None else packages.items():
        requirements.append(_pipfile_requirement(packages, key, value))  # type: ignore[arg-type]
    requires = top.opt_table("requires")
    python = None
    if requires is not None:
        python = requires.opt_string("python_version") or requires.opt_string("python_full_version")
    sources = [
        LockIndex(
            option=_option(position),
            url=_expand(source, source.string("url"), environ),
            origin=f"{path.name}: {source.where}",
        )
        for position, source in enumerate(top.tables("source"))
    ]
    return PipfileInput(requirements=tuple(requirements), python=python, sources=tuple(sources))


def _pipfile_requirement(packages: Table, key: str, value: object) -> str:
    if isinstance(value, str):
        value = {"version": value}
    if not isinstance(value, dict):
        packages.fail(key, "expected a version string or a table")
    entry = packages.child(key)
    entry = Table(data=value, where=entry.where, file=entry.file, hint=entry.hint)
    local = next((k for k in (*_LOCAL_KEYS, "editable") if k in entry), None)
    if local is not None:
        entry.fail(
            local,
            f"{key} comes from {local} {entry.raw(local)!r}: an image installs only files "
            "pinned by name, version and hash from an index",
        )
    version = (entry.opt_string("version") or "*").strip()
    extras = entry.string_array("extras")
    text = key + (f"[{','.join(extras)}]" if extras else "")
    if version != "*":
        text += version if version[0] in "<>=!~" else f"=={version}"
    markers = [f"({entry.string('markers')})"] if "markers" in entry else []
    markers.extend(f"{k} {entry.string(k)}" for k in _MARKER_KEYS if k in entry)
    if markers:
        text += " ; " + " and ".join(markers)
    try:
        return str(Requirement(text))
    except InvalidRequirement as exc:
        entry.fail(None, f"cannot be read as a requirement ({text!r}): {exc}")
