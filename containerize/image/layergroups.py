"""Which small packages share a dependency layer because they are bumped together.

A layer changes when any of its packages is bumped; a layer of packages that are bumped
together changes once for all of them. Two kinds of evidence say which packages those
are, in this order:

1. **The lock's own history** (:class:`LockHistory`, read from git by
   :mod:`containerize.image.lockhistory`): for each past change of the lock, the
   packages whose versions moved. Two packages *move together* when they moved in the
   same change at least :data:`MIN_TOGETHER` times and in at least half the changes
   that moved either of them; a group is a set of packages every two of which move
   together (complete linkage, merged greedily from the strongest pair, so the
   result does not depend on the order of anything). Changes that moved more than
   :func:`broad_limit` packages (a re-lock of everything) say nothing about pairs and
   are left out of the pairing. Packages that were in the lock's older versions and
   did not move in any change of the window are *stable*: the planner keeps them in a
   layer of their own kind that almost never changes.
2. **Release families**, when the history is too short or missing (no git, a shallow
   clone, a new project): projects known to release several distributions at once
   (:data:`FAMILIES`), and packages that share the first word of their name *and* are
   pinned to one version (``opentelemetry-api`` and ``opentelemetry-sdk`` at 1.27.0).
   Prefixes such as ``azure-``, ``google-cloud-``, ``django-`` or ``types-`` are not
   families: their distributions are released one by one.

Everything here is pure: the same packages and the same evidence give the same groups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from packaging.utils import NormalizedName

#: Two packages move together when they moved in the same lock change at least this
#: often (once can be chance: a re-lock that happened to catch both).
MIN_TOGETHER = 2
#: The history is used when it holds at least this many lock changes; a younger
#: project is grouped by release families.
MIN_CHANGES = 3

#: Projects that release several distributions at once, by family name: each entry's
#: names, and every name that starts with one of its prefixes.
FAMILIES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # boto3 and botocore are released together, daily; s3transfer is not.
    "boto3": (("boto3", "botocore", "awscli"), ()),
    "boto3-stubs": (("boto3-stubs", "types-boto3"), ("mypy-boto3-", "types-boto3-")),
    "opentelemetry": ((), ("opentelemetry-",)),
    "grpcio": (("grpcio",), ("grpcio-",)),
    "dagster": (("dagster",), ("dagster-",)),
    "pyobjc": (("pyobjc",), ("pyobjc-",)),
    "jax": (("jax", "jaxlib"), ()),
}

_WORD = re.compile(r"[-_.]")
#: What a layer's stage name may not hold (a local version's ``+``).
_LABEL = re.compile(r"[^a-z0-9._-]")


@dataclass(frozen=True, kw_only=True)
class LockHistory:
    """What the lock's git history says: the names whose versions moved in each past
    change of the lock, newest first, up to the change that made the lock what it is
    now (excluded, so committing a bump does not regroup the packages it bumps)."""

    file: str  # the lock file's name, for the dry run
    changes: tuple[frozenset[NormalizedName], ...] = ()
    #: The names in the versions read (a package added by the change excluded is not).
    known: frozenset[NormalizedName] = frozenset()
    #: Old versions of the lock that could not be read (skipped, with their changes).
    skipped: int = 0
    #: Why there is no history, when there is none ('not a git repository', ...).
    unused: str | None = None

    @property
    def usable(self) -> bool:
        """Whether the history is long enough to group by (:data:`MIN_CHANGES`)."""
        return self.unused is None and len(self.changes) >= MIN_CHANGES


@dataclass(frozen=True, kw_only=True)
class Group:
    """Packages that share a layer because they are bumped together, and why."""

    label: str  # for the layer's name: the family, or the group's first package
    packages: tuple[NormalizedName, ...]  # sorted
    reason: str  # for the dry run: 'moved together in 7 of 9 lock changes'
    from_history: bool


def broad_limit(count: int) -> int:
    """A lock change that moved more than this many of *count* packages is a re-lock of
    everything, left out of the pairing."""
    return max(8, count // 4)


def from_history(history: LockHistory, names: Sequence[NormalizedName]) -> tuple[Group, ...]:
    """The groups of *names* that moved together in *history* (see the module docstring)."""
    wanted = set(names)
    limit = broad_limit(len(wanted))
    changes = [c & wanted for c in history.changes]
    changes = [c for c in changes if 2 <= len(c) <= limit]
    moved: dict[str, int] = {}
    both: dict[tuple[str, str], int] = {}
    for change in changes:
        for name in change:
            moved[name] = moved.get(name, 0) + 1
        for pair in combinations(sorted(change), 2):
            both[pair] = both.get(pair, 0) + 1

    def together(a: str, b: str) -> bool:
        pair = (a, b) if a < b else (b, a)
        count = both.get(pair, 0)
        return count >= MIN_TOGETHER and 2 * count >= moved[a] + moved[b] - count

    def strength(pair: tuple[str, str]) -> float:
        count = both[pair]
        return count / (moved[pair[0]] + moved[pair[1]] - count)

    # Greedy complete linkage, strongest pair first; ties broken by name.
    cluster = {name: frozenset([name]) for name in moved}
    for a, b in sorted(
        (p for p in both if together(*p)), key=lambda p: (-strength(p), -both[p], p)
    ):
        left, right = cluster[a], cluster[b]
        if left is right or not all(together(x, y) for x in left for y in right):
            continue
        merged = left | right
        for member in merged:
            cluster[member] = merged
    groups = []
    for members in sorted({c for c in cluster.values() if len(c) > 1}, key=sorted):
        ordered = tuple(NormalizedName(n) for n in sorted(members))
        any_moved = sum(1 for c in changes if c & members)
        all_moved = sum(1 for c in changes if members <= c)
        groups.append(
            Group(
                label=ordered[0],
                packages=ordered,
                reason=f"moved together in {all_moved} of {any_moved} lock changes",
                from_history=True,
            )
        )
    return tuple(groups)


def stable(history: LockHistory, names: Sequence[NormalizedName]) -> frozenset[NormalizedName]:
    """The *names* whose versions did not move in any change of *history*: known to its
    versions and never added, removed or bumped. A package the lock's latest change
    added is not stable, so it does not leave the stable layer at the next change."""
    moved = frozenset().union(*history.changes)
    return frozenset(n for n in names if n in history.known and n not in moved)


def family_of(name: str) -> str | None:
    """The release family *name* belongs to by :data:`FAMILIES`, if any."""
    for family, (names, prefixes) in sorted(FAMILIES.items()):
        if name in names or name.startswith(prefixes):
            return family
    return None


def families(versions: Mapping[NormalizedName, str]) -> tuple[Group, ...]:
    """The release families among *versions* (name to locked version): by
    :data:`FAMILIES`, then by a shared first word and one version."""
    known: dict[str, list[NormalizedName]] = {}
    rest: dict[tuple[str, str], list[NormalizedName]] = {}
    for name, version in sorted(versions.items()):
        family = family_of(name)
        if family is not None:
            known.setdefault(family, []).append(name)
        elif len(words := _WORD.split(name)) > 1:
            rest.setdefault((words[0], version), []).append(name)
    groups = [
        Group(
            label=family,
            packages=tuple(members),
            reason=f"release family {family}",
            from_history=False,
        )
        for family, members in sorted(known.items())
        if len(members) > 1
    ]
    taken = {g.label for g in groups}
    for (word, version), members in sorted(rest.items()):
        # Two prefixes pinned at two versions are two groups: the version tells them
        # apart in the layer's name only when the word alone is taken.
        if len(members) > 1:
            label = word if word not in taken else _LABEL.sub("-", f"{word}-{version}")
            taken.add(label)
            groups.append(
                Group(
                    label=label,
                    packages=tuple(members),
                    reason=f"{word}-* pinned to one version, {version}",
                    from_history=False,
                )
            )
    return tuple(groups)
