"""What a re-lock changed: the difference between two locks, by package name and
version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import NormalizedName
from packaging.version import Version

from containerize.resolve.lock.model import Lock, LockedPackage


@dataclass(frozen=True, kw_only=True)
class Changes:
    """What a re-lock changed, by package name: versions added, removed, moved."""

    added: tuple[tuple[NormalizedName, Version], ...] = ()
    removed: tuple[tuple[NormalizedName, Version], ...] = ()
    changed: tuple[tuple[NormalizedName, Version, Version], ...] = ()

    def lines(self) -> list[str]:
        """One line per change, sorted by name; ``no change`` when there is none."""
        entries = [(str(n), f"  + {n} {v} (added)") for n, v in self.added]
        entries += [(str(n), f"  - {n} {v} (removed)") for n, v in self.removed]
        entries += [(str(n), f"  ~ {n} {old} -> {new}") for n, old, new in self.changed]
        if not entries:
            return ["  no change since the last lock"]
        return [line for _, line in sorted(entries)]


def diff(old: Lock, new: Lock) -> Changes:
    """The difference between two locks, by package name and version."""
    before = _versions(old.packages)
    after = _versions(new.packages)
    added: list[tuple[NormalizedName, Version]] = []
    removed: list[tuple[NormalizedName, Version]] = []
    changed: list[tuple[NormalizedName, Version, Version]] = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name, set()), after.get(name, set())
        if was == now:
            continue
        if len(was) == 1 and len(now) == 1:
            changed.append((name, next(iter(was)), next(iter(now))))
            continue
        added.extend((name, v) for v in sorted(now - was))
        removed.extend((name, v) for v in sorted(was - now))
    return Changes(added=tuple(added), removed=tuple(removed), changed=tuple(changed))


def _versions(packages: Iterable[LockedPackage]) -> dict[NormalizedName, set[Version]]:
    found: dict[NormalizedName, set[Version]] = {}
    for package in packages:
        found.setdefault(package.name, set()).add(package.version)
    return found
