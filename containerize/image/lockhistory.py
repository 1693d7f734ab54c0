"""The lock's past versions, read from git: which packages moved in each change.

:func:`read` asks git three things, whatever the history's length: whether the clone
is shallow, the commits that changed the lock file (first parent only, so a merged
branch counts as one change, with the blob ids before and after), and the versions the
window needs, in one ``git cat-file --batch`` (another only when changes that moved
nothing or did not parse leave the window short). Each old version is parsed by the
project's own lock reader, once: what it holds is kept by blob id in the *cache*
folder; one that does not parse is skipped (its changes are not counted). The window
is the last :data:`MAX_CHANGES` changes that moved a version, *before* the change that
made the lock what it is now, so a plan made before a bump is committed and one made
after see the same history.

A shallow clone's history is cut at a depth its CI chose, so it is not used at all:
the plan then groups by release families, as it would without git, and says so.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

from packaging.utils import NormalizedName

from containerize import process
from containerize.errors import CommandError
from containerize.image.layergroups import LockHistory
from containerize.resolve.lock import Lock, read_lock

#: The most lock changes read: older evidence says little about the next bump.
MAX_CHANGES = 50
#: The most commits asked of git (changes that moved no version are passed over).
_LOG_LIMIT = 4 * MAX_CHANGES
#: Bumped when what an entry of the cache holds changes.
_CACHE_VERSION = 1
_TIMEOUT = 60

Versions = Mapping[NormalizedName, frozenset[str]]


def versions_of(lock: Lock) -> dict[NormalizedName, frozenset[str]]:
    """Each package's locked versions (a uv fork may lock several)."""
    found: dict[NormalizedName, set[str]] = {}
    for package in lock.packages:
        found.setdefault(package.name, set()).add(str(package.version))
    return {name: frozenset(v) for name, v in found.items()}


def moved(old: Versions, new: Versions) -> frozenset[NormalizedName]:
    """The names whose versions differ between *old* and *new* (added, removed, bumped)."""
    return frozenset(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))


def read(lock_file: Path, *, cache: Path | None = None) -> LockHistory:
    """The history of *lock_file* in its git repository (see the module docstring).

    The lock as it is now is read again here, by the same reader as its old versions,
    so the two are compared alike. With *cache* (a folder), each old version's
    versions are kept there by blob id, so a rebuild reads no old version twice."""
    path = lock_file.resolve()
    name = path.name
    folder = path.parent
    shallow = _git(folder, "rev-parse", "--is-shallow-repository")
    if shallow is None:
        return LockHistory(file=name, unused="the project is not a git repository")
    if shallow.strip() == "true":
        return LockHistory(
            file=name,
            unused="a shallow clone (its history depends on the clone's depth: "
            "'git fetch --unshallow' plans as a full clone does)",
        )
    log = _git(
        folder,
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "--format=commit %H",
        f"-n{_LOG_LIMIT}",
        "--",
        name,
    )
    steps = _steps(log or "")
    if not steps:
        return LockHistory(file=name, unused=f"{name} has no history in git (not committed)")
    current = versions_of(read_lock(path))
    parsed: dict[str, Versions | None] = {}
    changes: list[frozenset[NormalizedName]] = []
    unreadable: set[str] = set()
    known: set[NormalizedName] = set()  # in some version read, before the lock's now
    now = True  # still among the changes that made the lock what it is now
    for index, (old, new) in enumerate(steps):
        if len(changes) == MAX_CHANGES:
            break
        if any(not _absent(b) and b not in parsed for b in (old, new)):
            # Read ahead as many versions as the window can still use, at once.
            ahead = steps[index : index + MAX_CHANGES - len(changes) + 2]
            wanted = sorted({b for step in ahead for b in step if not _absent(b)} - set(parsed))
            parsed.update(_load(folder, name, wanted, cache))
        after = None if _absent(new) else parsed.get(new)
        if now and after == current:
            continue
        now = False
        before = None if _absent(old) else parsed.get(old)
        for version in (before, after):
            known.update(version or ())
        if _absent(old) or _absent(new):
            continue  # the file was added or deleted: no versions moved, all of them
        if before is None or after is None:
            unreadable.update(b for b in (old, new) if parsed.get(b) is None)
            continue
        change = moved(before, after)
        if change:
            changes.append(change)
    return LockHistory(
        file=name, changes=tuple(changes), known=frozenset(known), skipped=len(unreadable)
    )


def _load(
    folder: Path, name: str, blobs: list[str], cache: Path | None
) -> dict[str, Versions | None]:
    """The versions in each of *blobs*: from *cache*, else read from git and parsed."""
    parsed = _cached(cache, name, blobs)
    missing = [b for b in blobs if b not in parsed]
    texts = _blobs(folder, missing)
    with tempfile.TemporaryDirectory(prefix="containerize-lockhistory-") as scratch:
        for blob in missing:
            found = _parse(Path(scratch) / name, texts[blob]) if blob in texts else None
            parsed[blob] = found
            if cache is not None and blob in texts:
                _remember(cache, name, blob, found)
    return parsed


def _absent(blob: str) -> bool:
    """Whether *blob* is git's id of no file (all zeros: SHA-1 or SHA-256)."""
    return not blob.strip("0")


def _entry(cache: Path, name: str, blob: str) -> Path:
    # The file's name picks the reader: the same blob read as another format is
    # another entry.
    return cache / f"v{_CACHE_VERSION}" / blob[:2] / f"{blob}-{name}.json"


def _cached(cache: Path | None, name: str, blobs: list[str]) -> dict[str, Versions | None]:
    """The versions already read from *blobs*, by blob id (None: it did not parse)."""
    found: dict[str, Versions | None] = {}
    if cache is None:
        return found
    for blob in blobs:
        try:
            data = json.loads(_entry(cache, name, blob).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not there, or torn: read the blob again
        if data is None:
            found[blob] = None
        elif isinstance(data, dict):
            found[blob] = {
                NormalizedName(k): frozenset(map(str, v))
                for k, v in data.items()
                if isinstance(v, list)
            }
    return found


def _remember(cache: Path, name: str, blob: str, versions: Versions | None) -> None:
    """Keep what *blob* held; the cache is an aid: a failure to write it is ignored."""
    entry = _entry(cache, name, blob)
    data = None if versions is None else {k: sorted(v) for k, v in sorted(versions.items())}
    with suppress(OSError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        temp = entry.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(data), encoding="utf-8")
        temp.replace(entry)


def _steps(log: str) -> list[tuple[str, str]]:
    """The (old blob, new blob) pairs of ``git log --raw``, newest first."""
    steps = []
    for line in log.splitlines():
        if line.startswith(":"):
            fields = line[1:].split("\t", 1)[0].split()
            if len(fields) >= 4:
                steps.append((fields[2], fields[3]))
    return steps


def _blobs(folder: Path, blobs: list[str]) -> dict[str, str]:
    """The text of each of *blobs*, from one ``git cat-file --batch``.

    The output is split at the next blob's header, not by the byte sizes it gives:
    the text was decoded, and a lock with CRLF line ends is read with LF ones."""
    if not blobs:
        return {}
    out = _git(folder, "cat-file", "--batch", input="".join(f"{b}\n" for b in blobs))
    if out is None:
        return {}
    found = {}
    pos = 0
    for index, blob in enumerate(blobs):
        eol = out.find("\n", pos)
        if eol < 0 or not out.startswith(f"{blob} ", pos):
            break  # not what was asked for: keep what was read
        start = eol + 1
        if not out[pos:eol].startswith(f"{blob} blob "):
            pos = start  # missing: an object the clone does not have
            continue
        later = out.find(f"\n{blobs[index + 1]} ", start) if index + 1 < len(blobs) else -1
        end = later if later >= 0 else len(out) - 1  # the last blob: less its final LF
        found[blob] = out[start:end]
        pos = end + 1
    return found


def _parse(path: Path, text: str) -> Versions | None:
    """The versions in one old lock version, or None when it does not parse."""
    try:
        path.write_text(text, encoding="utf-8")
        return versions_of(read_lock(path))
    except Exception:  # an old version is evidence, never a reason to stop the build
        return None


def _git(folder: Path, *args: str, input: str | None = None) -> str | None:
    """git's answer, or None outside a repository, without git, or on any failure."""
    try:
        result = process.run(["git", *args], cwd=folder, input=input, check=False, timeout=_TIMEOUT)
    except (CommandError, UnicodeDecodeError):
        return None
    return result.stdout if result.returncode == 0 else None
