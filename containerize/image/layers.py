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
- the others go into a fixed number of *buckets* chosen by a hash of their name, so a
  package stays in its bucket whatever else the lock holds, and a bump changes that
  one bucket; the buckets of pure-Python packages (one ``none-any`` wheel, the same
  file on every platform) are kept apart from the others, so a layer of pure wheels is
  installed once for every platform and has one digest on all of them.

The budget caps the number of dependency layers: ``2 x buckets`` are set aside for the
buckets (``buckets`` is a quarter of the budget, at most :data:`MAX_BUCKETS`), the rest
is for large packages. Nothing here touches the engine or the filesystem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import InvalidWheelFilename, NormalizedName, parse_wheel_filename

from containerize.resolve.selection import PlatformSelection, SelectedPackage

#: A wheel of this size or more is a large package: a layer of its own when the budget
#: allows. Django's wheel is 8 MiB, Pillow's 4 MiB; most packages are under 300 KiB.
LARGE = 1024 * 1024
#: At most this many buckets of each kind (pure, platform-specific). Each layer is a
#: build step of its own (about 0.3 s of a cold build on 2 CPUs): two buckets keep a
#: small bump to about half the small packages, for few steps.
MAX_BUCKETS = 2
DEFAULT_BUDGET = 20


@dataclass(frozen=True, kw_only=True)
class LayerPackage:
    """One package as the planner sees it: its largest file on any platform (0 when
    no size is known), and whether every platform installs the same pure wheel."""

    name: NormalizedName
    size: int
    pure: bool


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One dependency layer: its stage name and the packages installed into it."""

    name: str  # 'layer-django', 'layer-pure-2', 'layer-native-0'
    packages: tuple[NormalizedName, ...]  # sorted
    size: int  # the sum of its packages' sizes, 0 when unknown
    pure: bool  # only pure wheels: built once for every platform
    own: bool  # one large package's own layer

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
        for layer in self.layers:
            size = f"{layer.size / 1024 / 1024:.1f} MiB" if layer.size else "size unknown"
            names = ", ".join(layer.packages)
            out.append(f"  {layer.name} ({layer.kind}, {size}): {names}")
        if self.unsized:
            out.append(
                f"  sizes not in the lock for {len(self.unsized)} package(s), planned as "
                "small: the build plans again with the wheelhouse's sizes"
            )
        return out


def bucket_count(budget: int) -> int:
    """How many buckets of each kind a *budget* sets aside (see the module docstring)."""
    return max(1, min(MAX_BUCKETS, budget // 4))


def bucket_of(name: str, buckets: int) -> int:
    """The bucket of *name*: from a hash of the name alone, so it never moves."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % buckets


def plan(packages: Sequence[LayerPackage], *, budget: int = DEFAULT_BUDGET) -> LayerPlan:
    """Group *packages* into at most *budget* layers (see the module docstring).

    The same packages and budget always give the same plan; a package's layer depends
    only on its own name and size, and on which packages are larger than it when more
    large packages than the budget's share want a layer of their own.
    """
    if budget < 1:
        raise ValueError(f"the layer budget must be at least 1, not {budget}")
    if not packages:
        return LayerPlan(budget=budget)
    unsized = tuple(sorted(p.name for p in packages if not p.size))
    if budget == 1:
        everything = tuple(sorted(packages, key=lambda p: p.name))
        return LayerPlan(
            layers=(_layer("layer-all", everything, own=False),), budget=1, unsized=unsized
        )
    buckets = bucket_count(budget)
    own_slots = budget - 2 * buckets
    large = sorted((p for p in packages if p.size >= LARGE), key=lambda p: (-p.size, p.name))
    own = {p.name for p in large[: max(0, own_slots)]}
    layers = [
        _layer(f"layer-{p.name}", (p,), own=True)
        for p in sorted(packages, key=lambda p: p.name)
        if p.name in own
    ]
    groups: dict[tuple[bool, int], list[LayerPackage]] = {}
    for package in packages:
        if package.name not in own:
            key = (package.pure, bucket_of(package.name, buckets))
            groups.setdefault(key, []).append(package)
    # Native buckets first, then pure: the order is fixed, whatever the lock holds.
    for pure, index in sorted(groups):
        members = tuple(sorted(groups[pure, index], key=lambda p: p.name))
        kind = "pure" if pure else "native"
        layers.append(_layer(f"layer-{kind}-{index}", members, own=False))
    return LayerPlan(layers=tuple(layers), budget=budget, unsized=unsized)


def _layer(name: str, members: Sequence[LayerPackage], *, own: bool) -> Layer:
    return Layer(
        name=name,
        packages=tuple(p.name for p in members),
        size=sum(p.size for p in members),
        pure=all(p.pure for p in members),
        own=own,
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
        out.append(LayerPackage(name=name, size=size, pure=pure))
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
) -> LayerPlan:
    """The dependency layers of the app's packages (the lock's selection for every
    target platform), with the wheelhouse's *sizes* (by sha256) when it is fetched."""
    return plan(packages_of([s.base.packages for s in selections], sizes=sizes), budget=budget)


def server_is_pure(selections: Sequence[PlatformSelection], server: str) -> bool:
    """Whether every platform installs the same pure wheels for *server*'s own layer."""
    chosen = [s.servers[server].packages for s in selections if server in s.servers]
    if len(chosen) != len(selections):
        return False
    packages = packages_of(chosen)
    return all(p.pure for p in packages)
