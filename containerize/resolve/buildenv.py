"""What each platform's sdists are built with: their build requirements, pinned.

An sdist's build requirements (``setuptools``, ``wheel``...) are pinned by hash, never
resolved during a build: containerize's own servers' sdists by what containerize
ships (:func:`~containerize.resolve.ownlocks.server_build_lock`), the project's by its
``containerize-build.lock`` (:mod:`containerize.resolve.buildlock`), which
:func:`pin_build_requirements` records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import NormalizedName

from containerize.errors import LockError
from containerize.resolve import buildlock, ownlocks
from containerize.resolve.buildlock import PinnedFile
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FetchReport, FileRequest, SharedFiles, fetch
from containerize.resolve.pipconfig import IndexSettings
from containerize.resolve.selection import PlatformSelection
from containerize.targets import TargetEnvironment


@dataclass(frozen=True, kw_only=True)
class BuildEnvironment:
    """Where the build requirements of one platform's sdists come from.

    All of a platform's sdists are compiled in one build environment. The sdists of
    containerize's own servers, taken from its server lock, are built with what
    :func:`~containerize.resolve.ownlocks.server_build_lock` pins for them; the
    project's own sdists (its lock's, a server the project pins included) with what its
    ``containerize-build.lock`` records for their requirements alone, so choosing a
    server never changes that file's entries. Where both pin a package, the project's
    file wins, as long as it still fits the requirements of containerize's sdists too.
    """

    target: TargetEnvironment
    #: containerize's servers' sdists, what they need and the wheels its lock pins.
    own_sdists: tuple[str, ...] = ()
    own_requires: tuple[str, ...] = ()
    own: tuple[PinnedFile, ...] = ()
    #: The project's sdists, and what they need (sorted); its file records these.
    sdists: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """The key of the project's entry (:func:`buildlock.key_for`)."""
        return buildlock.key_for(self.target, self.requires)

    @property
    def python(self) -> str:
        return "{}.{}".format(*self.target.python_version)

    def files(self, entry: buildlock.Entry | None) -> tuple[PinnedFile, ...]:
        """The wheels installed to build: *entry*'s (the project's), then containerize's
        for the packages *entry* does not pin; sorted by name."""
        chosen = {f.name: f for f in self.own}
        chosen.update({f.name: f for f in entry.files} if entry is not None else {})
        return tuple(chosen[name] for name in sorted(chosen))

    def problems(self, entry: buildlock.Entry | None) -> list[str]:
        """Why :meth:`files` with *entry* no longer fit every sdist (empty when they do)."""
        platform, python, requires = buildlock.key_for(
            self.target, (*self.requires, *self.own_requires)
        )
        merged = buildlock.Entry(
            platform=platform, python=python, requires=requires, files=self.files(entry)
        )
        return buildlock.problems(merged, self.target)


def build_environment(item: PlatformSelection, where: Callable[[str], Path]) -> BuildEnvironment:
    """Split *item*'s sdists (read at ``where(file name)``) into containerize's own and
    the project's (see :class:`BuildEnvironment`).

    A server's sdist counts as containerize's when it comes from the server lock and
    :func:`~containerize.resolve.ownlocks.server_build_lock` has an entry for its
    requirements on the target (the Pythons and platforms containerize supports); else
    the project records it.
    """
    borrowed = {
        p.file.filename for used in item.from_server_lock.values() for p in used.selection.packages
    }
    known = ownlocks.server_build_lock()
    own_sdists: list[str] = []
    own_requires: set[str] = set()
    own: dict[NormalizedName, PinnedFile] = {}
    sdists: list[str] = []
    requires: set[str] = set()
    for package in item.sdists:
        filename = package.file.filename
        needed = buildlock.sdist_requires(where(filename))
        entry = known.get(buildlock.key_for(item.target, needed)) if filename in borrowed else None
        # Two of containerize's sdists that pinned one package differently could not
        # share the environment: the second goes to the project's file then.
        if entry is not None and all(own.get(f.name, f) == f for f in entry.files):
            own_sdists.append(filename)
            own_requires.update(needed)
            own.update({f.name: f for f in entry.files})
        else:
            sdists.append(filename)
            requires.update(needed)
    return BuildEnvironment(
        target=item.target,
        own_sdists=tuple(own_sdists),
        own_requires=tuple(sorted(own_requires)),
        own=tuple(own[name] for name in sorted(own)),
        sdists=tuple(sdists),
        requires=tuple(sorted(requires)),
    )


def fetch_requirements(
    project_dir: Path,
    item: PlatformSelection,
    report: FetchReport,
    *,
    settings: IndexSettings,
    cache: Cache,
    dest: Path,
    shared: SharedFiles | None = None,
) -> tuple[PinnedFile, ...]:
    """The wheels the sdists of *item* are built with, exactly as containerize's own
    lock and ``containerize-build.lock`` pin them (:class:`BuildEnvironment`), fetched
    by hash into *dest*. Nothing is resolved here: a missing or stale entry is a
    :class:`LockError` naming the command that records it."""
    if not item.sdists:
        return ()
    env = build_environment(item, report.path)
    path = buildlock.path_in(project_dir)
    entry = buildlock.read(path).get(env.key) if env.sdists else None
    target = item.target
    record = (
        "then commit it (a build outside CI records it itself; under CI=true it must be committed)"
    )
    if env.sdists and entry is None:
        raise LockError(
            f"{path}: no build requirements recorded for {', '.join(env.sdists)} on "
            f"{target.platform} with Python {env.python} (they need {', '.join(env.requires)})",
            hint=f"run '{buildlock.REFRESH}' to resolve them once with your pip "
            f"configuration and record them in {path.name}, {record}",
        )
    stale = env.problems(entry)
    if stale and env.sdists:
        raise LockError(
            f"{path}: the build requirements recorded for {target.platform} with Python "
            f"{env.python} no longer fit: {'; '.join(stale)}",
            hint=f"run '{buildlock.REFRESH}' to resolve them again, then review and commit "
            f"{path.name} (a build outside CI records them itself)",
        )
    if stale:
        raise LockError(
            f"containerize's own build requirements for {', '.join(env.own_sdists)} on "
            f"{target.platform} do not fit: {'; '.join(stale)}",
            hint="containerize's installation is damaged: reinstall containerize",
        )
    files = env.files(entry)
    requests = [
        FileRequest(name=f.name, version=f.version, filename=f.filename, sha256=f.sha256)
        for f in files
    ]
    fetch(requests, settings=settings, cache=cache, dest=dest, shared=shared)
    return files


def pin_build_requirements(
    project_dir: Path,
    selections: Sequence[PlatformSelection],
    *,
    settings: IndexSettings,
    cache: Cache,
    refresh: bool = False,
    missing_only: bool = False,
    shared: SharedFiles | None = None,
) -> list[str]:
    """Record in ``containerize-build.lock`` what each platform's own sdists of the
    project are built with (containerize's servers' sdists need nothing there).

    Entries that are missing or stale are resolved with the user's pip (all of them
    with *refresh*); entries that fit are kept as they are; entries no platform needs
    any more are dropped. Returns one line per platform saying what happened.

    With *missing_only* (a build recording what it lacks), entries for other platforms
    or Pythons are kept, nothing else is said, and the lines name only what was
    recorded.
    """
    path = buildlock.path_in(project_dir)
    recorded = buildlock.read(path)
    wanted = dict(recorded) if missing_only else {}
    lines = []
    for item in selections:
        if not item.sdists:
            continue
        requests = [
            FileRequest(
                name=p.name, version=str(p.version), filename=p.file.filename, sha256=p.file.sha256
            )
            for p in item.sdists
        ]
        fetched = fetch(requests, settings=settings, cache=cache, shared=shared)
        env = build_environment(item, fetched.path)
        platform = item.target.platform
        if env.own_sdists and not missing_only:
            lines.append(
                f"{platform}: {', '.join(env.own_sdists)}: containerize's own: " + _pins(env.own)
            )
        if not env.sdists:
            continue
        entry = recorded.get(env.key)
        stale = env.problems(entry) if entry is not None else []
        if entry is None or stale or refresh:
            entry = _resolve(env, cache=cache)
            why = "refreshed" if refresh else ("was stale" if stale else "recorded")
            if missing_only:
                lines.append(
                    f"recorded build requirements for {', '.join(env.sdists)} ({platform}, "
                    f"Python {env.python}) in {path.name}: {_pins(entry.files)}; commit it"
                )
            else:
                lines.append(f"{platform}: {why}: " + _pins(entry.files))
        elif not missing_only:
            lines.append(f"{platform}: kept: " + _pins(entry.files))
        wanted[env.key] = entry
    if wanted != recorded and (wanted or path.exists()):
        buildlock.write(path, wanted)
    return lines


def _resolve(env: BuildEnvironment, *, cache: Cache) -> buildlock.Entry:
    """The project's entry for *env*: its sdists' requirements resolved; with
    containerize's sdists' too when its own pins cannot join those (recorded under
    the project's key all the same, so the project's pins win)."""
    entry = buildlock.resolve(list(env.requires), env.target, cache=cache)
    if env.own_sdists and env.problems(entry):
        both = buildlock.resolve(
            sorted({*env.requires, *env.own_requires}), env.target, cache=cache
        )
        entry = replace(both, requires=env.requires)
    return entry


def _pins(files: Sequence[PinnedFile]) -> str:
    return ", ".join(f"{f.name} {f.version}" for f in files)
