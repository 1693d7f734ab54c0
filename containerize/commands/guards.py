"""What the commands that write the build folder do around a run: the cache exports
the preflight checks, what an interrupted run left behind, hash mismatches that name
the lock, and a line said as it happens."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from containerize import config
from containerize.errors import ContainerizeError, FetchError
from containerize.image import buildcache
from containerize.resolve import lock as lockmod
from containerize.resolve import mismatch
from containerize.resolve.cache import Cache


def cache_exports(cfg: config.Config) -> tuple[str, ...]:
    """Every cache export the builds of *cfg* would ask for (servers, then compile)."""
    return buildcache.settings(cfg).exports((*cfg.servers, buildcache.COMPILE))


def report_leftovers(build_dir: Path, removed: Sequence[str], cache: Cache) -> None:
    """Remove the partial downloads of killed runs too, and say in one line what went."""
    downloads = cache.remove_leftovers()
    parts = []
    if removed:
        parts.append(f"{', '.join(removed)} in {build_dir}")
    if downloads:
        parts.append(f"{len(downloads)} partial download(s) in {cache.partial_folder}")
    if parts:
        print(
            "containerize: removed what an interrupted run left behind: " + "; ".join(parts),
            file=sys.stderr,
        )


@contextmanager
def naming_the_lock(cfg: config.Config) -> Iterator[None]:
    """Hash mismatches name the lock file and its re-lock command (the fetch knows
    neither)."""
    try:
        yield
    except FetchError as exc:
        try:
            lock = lockmod.load_locks(cfg.project_dir, cfg.locks)
        except ContainerizeError:
            raise exc from None
        named = mismatch.naming_the_lock(exc, str(lock.path), lock.relock_command)
        if named is exc:
            raise
        raise named from None


def say(line: str) -> None:
    print(line, flush=True)
