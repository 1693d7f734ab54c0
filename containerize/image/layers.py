"""The dependency layers, planned from the lock: which packages share an image layer.

Every image gets the venv in layers, in a fixed order:

1. the venv's skeleton (``pyvenv.cfg``, ``bin/python``), a few hundred bytes;
2. the dependency layers this module plans, the same in every server's image;
3. the server's own packages (gunicorn and what it adds), in one layer.

Each dependency layer is installed into a staging root of its own, bytecode compiled
there and given fixed timestamps, then copied into the image with ``COPY --link``: its
content depends only on its own packages' wheels, so bumping one package changes one
layer, and identical layers have identical digests in every server's image (pushed
once, pulled once).

How packages are grouped:

- a *large* package (a wheel of at least :data:`LARGE` bytes) gets a layer of its own,
  the largest first, as far as the budget allows;
- small packages that are bumped together share a *group* layer
  (:mod:`containerize.image.layergroups`: from the lock's git history, else from
  release families), the largest groups first, as far as the budget allows;
- the others go into a fixed number of *buckets* of each kind: with a usable history,
  one bucket holds the *stable* packages (no version moved in the history read) and
  the rest are spread by a hash of their name, so a package stays in its bucket
  whatever else the lock holds, and a bump changes that one bucket.

Pure-Python packages (one ``none-any`` wheel, the same file on every platform) never
share a layer with the others, so a layer of pure wheels is installed once for every
platform and has one digest on all of them.

The budget caps the number of dependency layers: ``2 x buckets`` are set aside for the
buckets (``buckets`` is a quarter of the budget, at most :data:`MAX_BUCKETS`), a fifth
of the budget (at most :data:`MAX_GROUPS`, none under 8) for groups, the rest is for
large packages. What is set aside does not depend on the evidence, so a new group never
takes a large package's own layer. Nothing here touches the engine or the filesystem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from packaging.utils import InvalidWheelFilename, NormalizedName, parse_wheel_filename

from containerize.image import layergroups
from containerize.image.layergroups import MIN_CHANGES, Group, LockHistory
from containerize.resolve.selection import PlatformSelection, SelectedPackage

#: A wheel of this size or more is a large package: a layer of its own when the budget
#: allows. Django's wheel is 8 MiB, Pillow's 4 MiB; most packages are under 300 KiB.
LARGE = 1024 * 1024
#: At most this many buckets of each kind (pure, platform-specific). Each layer is a
#: build step of its own (about 0.3 s of a cold build on 2 CPUs): two buckets keep a
#: small bump to about half the small packages, for few steps.
MAX_BUCKETS = 2
#: At most this many group layers (packages bumped together).
MAX_GROUPS = 6
DEFAULT_BUDGET = 20


@dataclass(frozen=True, kw_only=True)
class LayerPackage:
    """One package as the planner sees it: its largest file on any platform (0 when
    no size is known), and whether every platform installs the same pure wheel."""

    name: NormalizedName
    size: int
    pure: bool
    version: str = ""  # the locked version ('1.2,1.3' when platforms differ)


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One dependency layer: its stage name and the packages installed into it."""

    #: 'layer-django' (own), 'layer-pure-with-boto3' (moved together),
    #: 'layer-pure-family-opentelemetry', 'layer-native-stable', 'layer-native-0'.
    name: str
    packages: tuple[NormalizedName, ...]  # sorted
    size: int  # the sum of its packages' sizes, 0 when unknown
    pure: bool  # only pure wheels: built once for every platform
    own: bool  # one large package's own layer
    reason: str = ""  # why its packages share it, for the dry run

    @property
    def kind(self) -> str:
        """'own', 'pure' or 'native', for the dry run."""
        return "own" if self.own else ("pure" if self.pure else "native")


@dataclass(frozen=True, kw_only=True)
class LayerPlan:
    """The dependency layers, in the order the images stack them."""

    layers: tuple[Layer, ...] = ()
    budget: int = DEFAULT_BUDGET
    #: Packages whose size the lock did not say (planned as small).
    unsized: tuple[NormalizedName, ...] = ()
    #: The lock's history the groups came from (kept to plan again with sizes). Not
    #: part of the plan's value: the layers it gave are (the image key hashes them).
    history: LockHistory | None = field(default=None, compare=False, repr=False)

    def lines(self) -> list[str]:
        """The plan in a few lines, for the dry run."""
        if not self.layers:
            return ["dependency layers: none (the app has no dependencies of its own)"]
        pure = sum(1 for layer in self.layers if layer.pure)
        out = [
            f"dependency layers: {len(self.layers)} of at most {self.budget} "
            f"(tool.containerize.layer-budget); {pure} of pure-Python wheels, built once "
            "for every platform"
        ]
        out.append(f"  {_grouping(self.history)}")
        for layer in self.layers:
            size = f"{layer.size / 1024 / 1024:.1f} MiB" if layer.size else "size unknown"
            names = ", ".join(layer.packages)
            why = f" ({layer.reason})" if layer.reason else ""
            out.append(f"  {layer.name} ({layer.kind}, {size}): {names}{why}")
        if self.unsized:
            out.append(
                f"  sizes not in the lock for {len(self.unsized)} package(s), planned as "
                "small: the build plans again with the wheelhouse's sizes"
            )
        return out


def _grouping(history: LockHistory | None) -> str:
    """How the small packages were grouped, for the dry run."""
    if history is not None and history.usable:
        skipped = (
            f"; {history.skipped} old version(s) of it could not be read, skipped"
            if history.skipped
            else ""
        )
        return (
            f"small packages grouped by what moved together in {history.file}'s last "
            f"{len(history.changes)} change(s) in git{skipped}"
        )
    if history is not None and history.unused is None:
        skipped = f", {history.skipped} old version(s) unreadable" if history.skipped else ""
        return (
            f"small packages grouped by release families: {history.file}'s history in git "
            f"is too short ({len(history.changes)} change(s) of a version{skipped}; "
            f"{MIN_CHANGES} are needed)"
        )
    why = "it was not read" if history is None else history.unused
    return f"small packages grouped by release families: no lock history ({why})"


def bucket_count(budget: int) -> int:
    """How many buckets of each kind a *budget* sets aside (see the module docstring)."""
    return max(1, min(MAX_BUCKETS, budget // 4))


def group_slots(budget: int) -> int:
    """How many group layers a *budget* sets aside (see the module docstring)."""
    return min(MAX_GROUPS, budget // 5) if budget >= 8 else 0


def own_slots(budget: int) -> int:
    """How many large packages a *budget* gives a layer of their own."""
    return max(0, budget - 2 * bucket_count(budget) - group_slots(budget))


def bucket_of(name: str, buckets: int) -> int:
    """The bucket of *name*: from a hash of the name alone, so it never moves."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % buckets


def plan(
    packages: Sequence[LayerPackage],
    *,
    budget: int = DEFAULT_BUDGET,
    history: LockHistory | None = None,
) -> LayerPlan:
    """Group *packages* into at most *budget* layers (see the module docstring), with
    what the lock's *history* says was bumped together.

    The same packages, budget and history always give the same plan; a small package's
    layer depends only on its name, its kind and the groups it is in, and a large one's
    on which packages are larger than it when more large packages than the budget's
    share want a layer of their own.
    """
    if budget < 1:
        raise ValueError(f"the layer budget must be at least 1, not {budget}")
    if not packages:
        return LayerPlan(budget=budget, history=history)
    unsized = tuple(sorted(p.name for p in packages if not p.size))
    if budget == 1:
        everything = tuple(sorted(packages, key=lambda p: p.name))
        return LayerPlan(
            layers=(_layer("layer-all", everything, own=False),),
            budget=1,
            unsized=unsized,
            history=history,
        )
    buckets = bucket_count(budget)
    large = sorted((p for p in packages if p.size >= LARGE), key=lambda p: (-p.size, p.name))
    own = {p.name for p in large[: own_slots(budget)]}
    by_name = {p.name: p for p in packages}
    layers = [
        _layer(f"layer-{p.name}", (p,), own=True)
        for p in sorted(packages, key=lambda p: p.name)
        if p.name in own
    ]
    small = sorted(name for name in by_name if name not in own)
    usable = history is not None and history.usable
    found = (
        layergroups.from_history(history, small)
        if history is not None and usable
        else layergroups.families({n: by_name[n].version for n in small})
    )
    grouped: set[str] = set()
    for group, pure in _granted(found, by_name, group_slots(budget)):
        members = tuple(by_name[n] for n in group.packages if by_name[n].pure == pure)
        kind = "pure" if pure else "native"
        how = "with" if group.from_history else "family"
        layers.append(
            _layer(f"layer-{kind}-{how}-{group.label}", members, own=False, reason=group.reason)
        )
        grouped.update(p.name for p in members)
    rest = [name for name in small if name not in grouped]
    # With a history, one bucket of each kind is the stable one, even when it is empty:
    # how many buckets the hash spreads over never depends on the evidence.
    with_stable = history is not None and usable and buckets > 1
    steady = layergroups.stable(history, rest) if history is not None and with_stable else ()
    spread = buckets - 1 if with_stable else buckets
    piles: dict[tuple[bool, str], list[LayerPackage]] = {}
    for name in rest:
        package = by_name[name]
        where = "stable" if name in steady else str(bucket_of(name, spread))
        piles.setdefault((package.pure, where), []).append(package)
    # Native piles first, then pure; the stable pile of each kind first: the order is
    # fixed, whatever the lock holds.
    for pure, where in sorted(piles, key=lambda k: (k[0], k[1] != "stable", k[1])):
        kind = "pure" if pure else "native"
        reason = "no version moved in the lock's history" if where == "stable" else ""
        layers.append(_layer(f"layer-{kind}-{where}", piles[pure, where], own=False, reason=reason))
    return LayerPlan(layers=tuple(layers), budget=budget, unsized=unsized, history=history)


def _granted(
    groups: Sequence[Group], by_name: Mapping[NormalizedName, LayerPackage], slots: int
) -> list[tuple[Group, bool]]:
    """The (group, kind) layers the *slots* go to: each group's pure and platform-specific
    packages apart, where two or more of one kind share it; the largest groups first
    (by how many packages, never by bytes: a bump must not move a group's rank)."""
    wanted = []
    for group in groups:
        for pure in (False, True):
            count = sum(1 for n in group.packages if by_name[n].pure == pure)
            if count > 1:
                wanted.append((count, group, pure))
    wanted.sort(key=lambda w: (-w[0], w[1].label, w[2]))
    return [(group, pure) for _, group, pure in wanted[:slots]]


def _layer(name: str, members: Sequence[LayerPackage], *, own: bool, reason: str = "") -> Layer:
    ordered = sorted(members, key=lambda p: p.name)
    return Layer(
        name=name,
        packages=tuple(p.name for p in ordered),
        size=sum(p.size for p in ordered),
        pure=all(p.pure for p in ordered),
        own=own,
        reason=reason,
    )


def is_pure_wheel(filename: str) -> bool:
    """Whether *filename* is a wheel every platform installs alike (``none-any``)."""
    if not filename.endswith(".whl"):
        return False
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return all(tag.abi == "none" and tag.platform == "any" for tag in tags)


def packages_of(
    chosen: Sequence[Sequence[SelectedPackage]],
    *,
    sizes: Mapping[str, int] | None = None,
) -> tuple[LayerPackage, ...]:
    """The planner's view of packages chosen on several platforms (one sequence per
    platform): each package's largest file (from *sizes*, by sha256, else the lock),
    and whether every platform installs the very same pure wheel."""
    files: dict[NormalizedName, list[SelectedPackage]] = {}
    for platform in chosen:
        for package in platform:
            files.setdefault(package.name, []).append(package)
    out = []
    for name, found in sorted(files.items()):
        size = max((_size(p, sizes) for p in found), default=0)
        pure = (
            len(found) == len(chosen)
            and len({p.file.sha256 for p in found}) == 1
            and is_pure_wheel(found[0].file.filename)
        )
        version = ",".join(sorted({str(p.version) for p in found}))
        out.append(LayerPackage(name=name, size=size, pure=pure, version=version))
    return tuple(out)


def _size(package: SelectedPackage, sizes: Mapping[str, int] | None) -> int:
    if sizes and package.file.sha256 in sizes:
        return sizes[package.file.sha256]
    return package.file.size or 0


def from_selections(
    selections: Sequence[PlatformSelection],
    *,
    budget: int,
    sizes: Mapping[str, int] | None = None,
    history: LockHistory | None = None,
) -> LayerPlan:
    """The dependency layers of the app's packages (the lock's selection for every
    target platform), with the wheelhouse's *sizes* (by sha256) when it is fetched and
    the lock's git *history* when it was read."""
    return plan(
        packages_of([s.base.packages for s in selections], sizes=sizes),
        budget=budget,
        history=history,
    )


def server_is_pure(selections: Sequence[PlatformSelection], server: str) -> bool:
    """Whether every platform installs the same pure wheels for *server*'s own layer."""
    chosen = [s.servers[server].packages for s in selections if server in s.servers]
    if len(chosen) != len(selections):
        return False
    packages = packages_of(chosen)
    return all(p.pure for p in packages)
