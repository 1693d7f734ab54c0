"""The sdists' build requirements, locked once in ``containerize-build.lock``.

An sdist names what it is built with (``[build-system] requires``, or setuptools and
wheel for a ``setup.py`` alone), not which versions. containerize resolves those
requirements once, with the user's own pip and pip configuration, for each target
platform and Python, and records the chosen wheels with their sha256 in a file the
user commits beside ``containerize.lock``. Builds then fetch exactly those files by
hash: an entry that is missing, or no longer fits the sdist's requirements or the
target, is an error naming the command that records it (:data:`REFRESH`), except in
a build outside CI, which records it once and says so. containerize's own servers'
sdists are recorded in a file of the same format that containerize ships
(``servers/servers-build.lock``; see
:class:`containerize.resolve.buildenv.BuildEnvironment`). The file is separate from
``containerize.lock`` because the base image's digest is the registry's and often
differs between machines, while build requirements do not.

The file, written with tomlkit, sorted::

    [[build-requirements]]
    platform = "linux/arm64"
    python = "3.11"
    requires = ["setuptools>=40.8.0", "wheel"]
    files = [
        {name = "setuptools", version = "80.9.0", file = "setuptools-80.9.0-py3-none-any.whl",
         sha256 = "..."},
        ...
    ]
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from containerize import process
from containerize.errors import CommandError, FetchError, LockError
from containerize.fsutil import replacing_file, write_atomic
from containerize.resolve.cache import Cache
from containerize.targets import TargetEnvironment

FILE_NAME = "containerize-build.lock"
#: The command that records missing entries and replaces stale ones.
REFRESH = "containerize pin"
# What pip builds a setup.py-only sdist with when it has no [build-system] table.
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")

_HEADER = (
    "Written by containerize: what sdists are built with, resolved once and pinned by\n"
    "sha256 for each target platform and Python. Commit this file.\n"
    f"Record missing entries with '{REFRESH}'; resolve all again with '{REFRESH} --refresh'."
)


@dataclass(frozen=True, kw_only=True)
class PinnedFile:
    """A build requirement's wheel: not in the user's lock, pinned here."""

    name: NormalizedName
    version: str
    filename: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class Entry:
    """The files that satisfy *requires* on *platform* with CPython *python*."""

    platform: str
    python: str  # MAJOR.MINOR
    requires: tuple[str, ...]  # sorted
    files: tuple[PinnedFile, ...]  # sorted by name

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.platform, self.python, self.requires)


def path_in(project_dir: Path) -> Path:
    """Where a project's build lock is."""
    return project_dir / FILE_NAME


def key_for(target: TargetEnvironment, requires: Iterable[str]) -> tuple[str, str, tuple[str, ...]]:
    """The entry key for *requires* on *target*."""
    return (
        str(target.platform),
        "{}.{}".format(*target.python_version),
        tuple(sorted(set(requires))),
    )


# -- Reading ------------------------------------------------------------------------------


def read(path: Path, *, hint: str | None = None) -> dict[tuple[str, str, tuple[str, ...]], Entry]:
    """The entries recorded in *path* (none when it does not exist), by key; a damaged
    file is an error with *hint* (by default: restore it, or record it again)."""
    if hint is None:
        hint = f"restore {path.name} from version control, or delete it and run '{REFRESH}'"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise LockError(f"{path}: not UTF-8 text (byte {exc.start})", hint=hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{path}: not valid TOML: {exc}", hint=hint) from None
    tables = data.get("build-requirements", [])
    if not isinstance(tables, list):
        raise LockError(f"{path}: build-requirements must be an array of tables", hint=hint)
    entries = {}
    for index, table in enumerate(tables):
        entry = _entry(table, f"{path}: build-requirements[{index}]", hint)
        if entry.key in entries:
            raise LockError(
                f"{path}: build-requirements[{index}] repeats the entry for {entry.platform}, "
                f"Python {entry.python}, {', '.join(entry.requires)}",
                hint=hint,
            )
        entries[entry.key] = entry
    return entries


def _entry(table: object, where: str, hint: str) -> Entry:
    if not isinstance(table, dict):
        raise LockError(f"{where}: not a table", hint=hint)
    text = {key: table.get(key) for key in ("platform", "python")}
    for key, value in text.items():
        if not isinstance(value, str) or not value:
            raise LockError(f"{where}.{key}: expected a string, got {value!r}", hint=hint)
    requires = table.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise LockError(f"{where}.requires: expected a list of requirements", hint=hint)
    files = table.get("files")
    if not isinstance(files, list):
        raise LockError(f"{where}.files: expected an array of tables", hint=hint)
    return Entry(
        platform=str(text["platform"]),
        python=str(text["python"]),
        requires=tuple(sorted(requires)),
        files=tuple(_file(item, f"{where}.files[{i}]", hint) for i, item in enumerate(files)),
    )


def _file(item: object, where: str, hint: str) -> PinnedFile:
    if not isinstance(item, dict):
        raise LockError(f"{where}: not a table", hint=hint)
    values = {key: item.get(key) for key in ("name", "version", "file", "sha256")}
    for key, value in values.items():
        if not isinstance(value, str):
            raise LockError(f"{where}.{key}: expected a string, got {value!r}", hint=hint)
    filename, sha256 = str(values["file"]), str(values["sha256"])
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise LockError(f"{where}.sha256: {sha256!r} is not a sha256 hex digest", hint=hint)
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        raise LockError(
            f"{where}.file: {filename!r} is not a wheel's file name", hint=hint
        ) from None
    if name != canonicalize_name(str(values["name"])) or str(version) != str(values["version"]):
        raise LockError(
            f"{where}: {filename} is not {values['name']} {values['version']}", hint=hint
        )
    return PinnedFile(name=name, version=str(version), filename=filename, sha256=sha256)


# -- Checking -------------------------------------------------------------------------


def problems(entry: Entry, target: TargetEnvironment) -> list[str]:
    """Why *entry* no longer fits its requirements or *target* (empty when it fits)."""
    found: list[str] = []
    ranks = target.tag_ranks()
    pinned = {f.name: f for f in entry.files}
    for text in entry.requires:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(
            dict(target.marker_environment())
        ):
            continue
        file = pinned.get(canonicalize_name(requirement.name))
        if file is None:
            found.append(f"nothing pins {requirement.name}")
            continue
        try:
            version = Version(file.version)
        except InvalidVersion:
            found.append(f"{file.filename} has no valid version")
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{file.filename} does not satisfy {text}")
    for file in entry.files:
        if not any(tag in ranks for tag in parse_wheel_filename(file.filename)[3]):
            found.append(f"{file.filename} does not install on {target.platform}")
    return found


def sdist_requires(path: Path) -> list[str]:
    """``[build-system] requires`` of the sdist at *path* (pip's legacy default if none)."""
    try:
        data = _sdist_pyproject(path)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise FetchError(
            f"{path.name}: not a readable sdist ({exc})",
            hint="its hash matched the lock, so the lock pins a broken file: re-lock or "
            "report it to the package's maintainers",
        ) from None
    if data is None:
        return list(LEGACY_BUILD_REQUIRES)
    try:
        table = tomllib.load(io.BytesIO(data)).get("build-system", {})
    except tomllib.TOMLDecodeError as exc:
        raise FetchError(f"{path.name}: its pyproject.toml is not valid TOML: {exc}") from None
    requires = table.get("requires")
    if requires is None:
        return list(LEGACY_BUILD_REQUIRES)
    try:
        return [str(Requirement(r)) for r in requires]
    except (InvalidRequirement, TypeError) as exc:
        raise FetchError(f"{path.name}: invalid [build-system] requires: {exc}") from None


def _sdist_pyproject(path: Path) -> bytes | None:
    """The top-level ``pyproject.toml`` inside an sdist, if it has one."""
    data: bytes | None = None
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1]
            member = next((n for n in names if n.endswith("/pyproject.toml")), None)
            data = archive.read(member) if member else None
    else:
        with tarfile.open(path) as tarball:
            info = next(
                (
                    m
                    for m in tarball.getmembers()
                    if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml")
                ),
                None,
            )
            handle = tarball.extractfile(info) if info else None
            data = handle.read() if handle else None
    return data


# -- Resolving and writing ---------------------------------------------------------------


def resolve(requires: Sequence[str], target: TargetEnvironment, *, cache: Cache) -> Entry:
    """Resolve *requires* to wheels for *target* with the user's own pip and its
    configuration (indexes, credentials), keep them in the content cache."""
    platform, python, key = key_for(target, requires)
    major, minor = target.python_version
    platforms = []
    for tag in target.tags:
        if tag.platform != "any" and tag.platform not in platforms:
            platforms.append(tag.platform)
    with tempfile.TemporaryDirectory(prefix="containerize-build-reqs-") as tmp:
        argv = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--implementation", "cp",
            "--python-version", f"{major}.{minor}", "--abi", f"cp{major}{minor}",
            "--dest", tmp,
        ]  # fmt: skip
        for tag_platform in platforms[:40]:
            argv += ["--platform", tag_platform]
        try:
            process.run([*argv, *requires], timeout=600)
        except CommandError as exc:
            raise FetchError(
                f"could not resolve the sdists' build requirements for {target.platform}: "
                f"{', '.join(requires)}",
                hint="pip uses your pip configuration (index-url, extra-index-url); "
                "check it can reach an index\n" + exc.output_tail,
            ) from None
        pinned = []
        for path in sorted(Path(tmp).iterdir()):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            entry = cache.entry(digest, path.name)
            if not entry.exists():
                entry.parent.mkdir(parents=True, exist_ok=True)
                with replacing_file(entry) as partial:
                    shutil.copyfile(path, partial)
                    partial.chmod(0o644)
            name, version, *_ = parse_wheel_filename(path.name)
            pinned.append(
                PinnedFile(name=name, version=str(version), filename=path.name, sha256=digest)
            )
    return Entry(
        platform=platform,
        python=python,
        requires=key,
        files=tuple(sorted(pinned, key=lambda f: f.name)),
    )


def write(
    path: Path,
    entries: Mapping[tuple[str, str, tuple[str, ...]], Entry],
    *,
    header: str = _HEADER,
) -> None:
    """Write *entries* to *path* under the comment *header*, sorted, atomically."""
    document = tomlkit.document()
    for line in header.splitlines():
        document.add(tomlkit.comment(line))
    tables = tomlkit.aot()
    for key in sorted(entries):
        entry = entries[key]
        table = tomlkit.table()
        table["platform"] = entry.platform
        table["python"] = entry.python
        table["requires"] = list(entry.requires)
        files = tomlkit.array()
        files.multiline(True)
        for file in entry.files:
            item = tomlkit.inline_table()
            item.update(
                {
                    "name": file.name,
                    "version": file.version,
                    "file": file.filename,
                    "sha256": file.sha256,
                }
            )
            files.append(item)
        table["files"] = files
        tables.append(table)
    document["build-requirements"] = tables
    write_atomic(path, tomlkit.dumps(document))
