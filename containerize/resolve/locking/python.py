"""The Python a lock is made for: the one stated (``--python``, the previous lock, a
Pipfile's ``[requires]``, ``python-version``), within ``[project] requires-python``;
else the lowest Python a base image offers that every pin's Requires-Python, as the
index states it (``data-requires-python``), allows."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import tomlkit
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from containerize import bases
from containerize.errors import ConfigError, FetchError, LockError
from containerize.project import ProjectMetadata
from containerize.resolve.client import IndexClient
from containerize.resolve.lock.model import Lock, LockedPackage
from containerize.resolve.lock.pipenv import PIPFILE, read_pipfile
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.locking.request import LOCK_FILE, LockInputs, LockRequest
from containerize.resolve.locking.uv import run_uv
from containerize.resolve.pipconfig import FindLinks, IndexSettings, IndexSource


def offered_pythons() -> tuple[tuple[int, int], ...]:
    """The Pythons a base image offers, newest first: a Debian suite's that
    ``containerize base-image`` builds, or an official image's."""
    return tuple(
        sorted({*bases.SUPPORTED_PYTHONS, *(s.python for s in bases.SUITES)}, reverse=True)
    )


def choose_python(
    given: str | None,
    inputs: LockInputs,
    configured: tuple[int, int] | None,
    previous: Lock | None = None,
    requires_python: SpecifierSet | None = None,
) -> tuple[int, int] | None:
    """The lowest Python the lock is made for: ``--python``, else the previous lock's,
    else a Pipfile's ``[requires]``, else ``tool.containerize.python-version``; else
    ``None``: the pins' Requires-Python decide (:func:`pins_python`). The resolution holds for
    that Python and every newer one.

    *requires_python*, the project's ``[project] requires-python``, bounds them: a
    previous lock's Python outside it is dropped (the project moved on), and any other
    outside it is an error naming both.
    """

    def within(version: tuple[int, int], where: str) -> tuple[int, int]:
        if requires_python is None or bases.allows(requires_python, version):
            return version
        raise ConfigError(
            f"{where} says Python {bases.version_text(version)}, outside pyproject.toml's "
            f"[project] requires-python = '{requires_python}'",
            hint="make them agree: change one of the two",
        )

    if given is not None:
        return within(_major_minor(given, "--python"), "--python")
    lowest = None if previous is None else _lowest(previous)
    if lowest is not None and (requires_python is None or bases.allows(requires_python, lowest)):
        return lowest
    if inputs.kind == "pipfile":
        stated = read_pipfile(inputs.files[0]).python
        if stated is not None:
            where = f"{PIPFILE} [requires]"
            return within(_major_minor(stated, where), where)
    if configured is not None:
        return within(configured, "tool.containerize.python-version (or its default)")
    return None


def _lowest(lock: Lock) -> tuple[int, int] | None:
    """The X.Y of a ``requires-python = ">=X.Y"`` that ``containerize lock`` wrote."""
    for spec in lock.requires_python or ():
        if spec.operator == ">=":
            return _major_minor(spec.version, f"{lock.path.name}: requires-python")
    return None


def _major_minor(text: str, where: str) -> tuple[int, int]:
    parts = text.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ConfigError(f"{where}: {text!r} is not a Python version", hint="e.g. 3.12")
    return int(parts[0]), int(parts[1])


def pins_python(
    request: LockRequest,
    *,
    uv: Path,
    settings: IndexSettings,
    project: ProjectMetadata | None,
    previous: Lock | None,
) -> tuple[tuple[int, int], str]:
    """The lowest offered Python the pins allow, and why, for a *request* that states
    none: uv resolves for the newest offered Python that the requirements allow (a
    trial lock, in a folder of its own), then each pinned file's Requires-Python, as
    the index states it, bounds it from below."""
    offered = offered_pythons()
    stated = request.requires_python
    if stated is not None:
        offered = tuple(v for v in offered if bases.allows(stated, v))
        if not offered:
            raise LockError(
                f"pyproject.toml: [project] requires-python = '{stated}' allows no Python a "
                "base image offers ("
                + ", ".join(bases.version_text(v) for v in offered_pythons())
                + ")",
                hint="widen requires-python, or name one with 'containerize lock --python X.Y'",
            )
    failure: LockError | None = None
    for newest in offered:
        with tempfile.TemporaryDirectory(prefix="containerize-trial-") as tmp:
            trial = replace(request, python=newest)
            output = Path(tmp) / LOCK_FILE
            try:
                run_uv(
                    trial, uv=uv, settings=settings, project=project, previous=previous,
                    output=output,
                )  # fmt: skip
                _drop_local_folders(output)
                pinned = read_pylock(output)
            except LockError as exc:
                failure = failure or exc
                continue
        needs = _requires_python(pinned, settings)
        allowed = [
            version
            for version in reversed(offered)
            if version <= newest and all(bases.allows(spec, version) for spec in needs.values())
        ]
        if not allowed and stated is not None:
            raise LockError(
                f"pyproject.toml: [project] requires-python = '{stated}' and the pins' "
                "Requires-Python cannot agree: "
                + "; ".join(f"{pin} requires Python {spec}" for pin, spec in needs.items()),
                hint="change requires-python, or the pins that need another Python",
            )
        lowest = allowed[0] if allowed else newest
        return lowest, _why(lowest, needs, offered, stated)
    assert failure is not None
    if stated is not None:
        raise LockError(
            f"pyproject.toml: [project] requires-python = '{stated}' and the pins' "
            f"Requires-Python cannot agree: no lock for Python "
            + ", ".join(bases.version_text(v) for v in offered)
            + f"; {failure.message}",
            hint="change requires-python, or the pins uv names",
        )
    raise failure


def _requires_python(lock: Lock, settings: IndexSettings) -> dict[str, SpecifierSet]:
    """``name==version`` of each pin whose files the index gives a Requires-Python
    (``data-requires-python``), with the loosest of its files' constraints."""
    sources: list[IndexSource | FindLinks] = [*settings.indexes, *settings.find_links]
    client = IndexClient(settings)

    def read(package: LockedPackage) -> tuple[str, SpecifierSet] | None:
        names = {f.filename for f in package.files}
        for source in sources:
            try:
                files = client.project_files(source, package.name)
            except FetchError:
                continue
            stated = {f.requires_python for f in files if f.filename in names}
            if not stated:
                continue
            if None in stated:  # a file that runs anywhere: no bound
                return None
            try:
                specs = [SpecifierSet(text) for text in stated if text is not None]
            except InvalidSpecifier:
                return None
            # The pin installs where any of its files does: the loosest bound counts.
            loosest = min(specs, key=_floor)
            return f"{package.name} {package.version}", loosest
        return None

    found = client.map(read, lock.packages, jobs=8)
    return dict(sorted(item for item in found if item is not None))


def _floor(spec: SpecifierSet) -> tuple[int, int]:
    """The lowest offered Python *spec* allows (one above the newest if none)."""
    for version in reversed(offered_pythons()):
        if bases.allows(spec, version):
            return version
    newest = offered_pythons()[0]
    return newest[0], newest[1] + 1


def _why(
    lowest: tuple[int, int],
    needs: dict[str, SpecifierSet],
    offered: Sequence[tuple[int, int]],
    stated: SpecifierSet | None = None,
) -> str:
    """Which pins (or *stated*, the project's requires-python) set the floor at *lowest*."""
    if lowest == min(offered):
        if stated is not None:
            return (
                f"[project] requires-python = '{stated}'; every pin allows "
                f"{bases.version_text(lowest)}, the oldest base image within it"
            )
        return (
            "nothing states the Python; every pin allows "
            f"{bases.version_text(lowest)}, the oldest a base image offers"
        )
    below = max(v for v in offered if v < lowest)
    binding = [
        f"{pin} requires Python {spec}"
        for pin, spec in needs.items()
        if not bases.allows(spec, below)
    ]
    start = (
        "nothing states the Python" if stated is None else f"[project] requires-python = '{stated}'"
    )
    return (
        f"{start}; the lowest the pins allow: "
        + "; ".join(binding[:5])
        + (f" and {len(binding) - 5} more" if len(binding) > 5 else "")
    )


def _drop_local_folders(path: Path) -> None:
    """Remove a trial lock's local package folders: uv wrote them relative to the trial's
    folder, and only the index's files say which Python they need."""
    document = tomlkit.parse(path.read_text())
    packages = document.get("packages")
    if packages is None:
        return
    kept = [p for p in packages if "directory" not in p]
    if len(kept) != len(packages):
        document["packages"] = tomlkit.aot()
        for table in kept:
            document["packages"].append(table)
        path.write_text(tomlkit.dumps(document))
