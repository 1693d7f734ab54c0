"""The content-addressed file cache: files by their sha256, shared by every project.

A locked file is identified by its sha256, so the cache is keyed by it and shared by
every project and platform on the machine. An entry is re-hashed on every use, so a
truncated or changed file is never trusted. Downloads in progress live in the cache's
``partial`` folder under names that carry the process id; a later run removes those of
a run that was killed (:meth:`Cache.remove_leftovers`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from containerize.errors import ConfigError
from containerize.fsutil import owner_gone
from containerize.resolve.client import Cancelled

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_PARTIAL_PREFIX = ".partial-"
_PARTIAL_RE = re.compile(r"^([0-9]+)-[a-z0-9_]+\.part$")


@dataclass(frozen=True, kw_only=True)
class Cache:
    """Files by content: ``ROOT/sha256/<first two>/<hash>/<filename>``."""

    root: Path
    #: What this run pulled from a shared cache, by sha256, with where from: a later
    #: fetch in the same run finds it here, and still says where it came from.
    pulled: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def note_pulled(self, sha256: str, source: str) -> None:
        """Remember that the entry *sha256* came from the shared cache *source*."""
        self.pulled[sha256] = source

    @classmethod
    def default(cls, environ: Mapping[str, str] = os.environ) -> Cache:
        """``$CONTAINERIZE_CACHE_DIR``, else ``$XDG_CACHE_HOME/containerize/files``,
        else ``~/.cache/containerize/files``."""
        explicit = environ.get("CONTAINERIZE_CACHE_DIR")
        if explicit:
            root = Path(explicit).expanduser()
            where = "CONTAINERIZE_CACHE_DIR"
        else:
            xdg = environ.get("XDG_CACHE_HOME")
            base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".cache"
            root = base / "containerize" / "files"
            where = "XDG_CACHE_HOME" if xdg else "HOME"
        for folder in (root, *root.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise ConfigError(
                        f"{where}: the download cache {root} cannot be made: {folder} is a file",
                        hint=f"point {where} at a folder, or unset it",
                    )
                break
        return cls(root=root)

    def entry(self, sha256: str, filename: str) -> Path:
        """Where the file with this hash and name is (or would be) kept."""
        return self.root / "sha256" / sha256[:2] / sha256 / filename

    @property
    def partial_folder(self) -> Path:
        """Where downloads in progress are written: ``<pid>-<random>.part``."""
        return self.root / "partial"

    def remove_leftovers(self) -> list[str]:
        """Remove the partial downloads of runs that ended without cleaning up."""
        try:
            entries = sorted(self.partial_folder.iterdir())
        except OSError:
            return []
        removed = []
        for entry in entries:
            match = _PARTIAL_RE.match(entry.name)
            if match is not None and owner_gone(int(match[1])):
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
        return removed

    def lookup(self, sha256: str, filename: str) -> Path | None:
        """The cached file, re-hashed; a corrupt entry is deleted and ``None`` returned.

        Entries are renamed into place without fsync, so a crash can leave a truncated
        file behind a valid name: re-checking the hash on every use is what makes the
        cache trustworthy.
        """
        path = self.entry(sha256, filename)
        if not path.is_file():
            return None
        actual = sha256_of(path)
        if actual == sha256:
            return path
        logger.warning(
            "discarding corrupt cache entry %s (sha256 %s, expected %s)", path, actual, sha256
        )
        path.unlink(missing_ok=True)
        return None


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of the file at *path*."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Partials:
    """The downloads one fetch has under way, so that an interrupted fetch removes them.

    After :meth:`cancel`, no new partial file is created and nothing more is placed
    in the destination folder (which the caller is about to remove).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.removed = 0
        self._lock = threading.Lock()
        self._paths: set[Path] = set()
        self._cancelled = False

    def create(self) -> tuple[IO[bytes], Path]:
        with self._lock:
            if self._cancelled:
                raise Cancelled(str(self.folder))
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.folder, prefix=f"{os.getpid()}-", suffix=".part")
            path = Path(name)
            self._paths.add(path)
        return os.fdopen(fd, "wb"), path

    def commit(self, temp: Path, final: Path) -> None:
        # A verified file may still enter the cache after a cancel: it is complete.
        os.replace(temp, final)
        with self._lock:
            self._paths.discard(temp)

    def discard(self, temp: Path) -> None:
        temp.unlink(missing_ok=True)
        with self._lock:
            self._paths.discard(temp)

    def place(self, source: Path, target: Path) -> Path:
        with self._lock:
            if self._cancelled:
                raise Cancelled(str(target))
            return place_file(source, target)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            for path in self._paths:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                self.removed += 1
            self._paths.clear()


def place_file(source: Path, target: Path) -> Path:
    """Put *source* at *target* atomically: a hard link, or a copy across devices."""
    if target.exists() and target.samefile(source):
        # rename(2) of one hard link onto another of the same file is a no-op that
        # would leave the temporary name behind.
        return target
    temp = target.with_name(f"{_PARTIAL_PREFIX}{os.getpid()}-{threading.get_ident()}-{target.name}")
    temp.unlink(missing_ok=True)
    try:
        try:
            os.link(source, temp)
        except OSError:
            shutil.copyfile(source, temp)
            temp.chmod(0o644)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target
