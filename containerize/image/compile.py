"""Compiling sdists into wheels on their target platform, before the image build.

An sdist is the one thing that must run on the target platform (under emulation for a
foreign one): its build runs a compiler for that platform's CPU. It is compiled by a
build of its own (:func:`containerize.image.compilefile.render_compile`), whose wheels
are exported to a local folder, hashed, and kept in the content-addressed download
cache. The wheelhouse then holds each as a wheel with its own sha256, and the image's
Dockerfile installs wheels only.

The compile build's context is ``<build dir>/compile``: its Dockerfile and the build
step scripts, nothing of the application, so a code change never touches it.

Each sdist is compiled once per (sdist sha256, target platform, Python, build
requirements, base image digest): the base image is part of the key because the wheel
is compiled against its C library and headers. A record of each compiled wheel lives
in the cache, ``<cache>/compiled/<key>.json``, naming the wheel and its sha256; a
later build of any project, ``--no-cache`` included, that needs the same wheel takes
it from there (re-hashed) and compiles nothing. The Debian packages the sdist is
compiled with (declared or well-known, :mod:`containerize.syspackages`) are part of
the key too, so declaring another one compiles again.

The record also says what the wheel needs at run time: the Debian packages that ship
the libraries its extension modules link against (found by the compile build, on the
target platform), the libraries no package provides, and the versions of the build
packages it was compiled with. So a wheel taken from the cache still brings its run
packages into the image (:func:`derived_packages`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from containerize import syspackages
from containerize.buildfolder import BuildFolder
from containerize.buildsteps.wheels import COMPILED_RECORD
from containerize.engine import buildx
from containerize.errors import ConfigError, EngineError
from containerize.fsutil import replacing_dir, replacing_file, write_atomic
from containerize.image import buildcache, compilefile, plan
from containerize.platforms import Platform
from containerize.resolve.cache import Cache
from containerize.resolve.selection import SelectedPackage
from containerize.resolve.sharing import PulledWheel, SharedCache
from containerize.resolve.wheelhouse import CompiledWheel, PlatformWheelhouse, Wheelhouse

logger = logging.getLogger("containerize")


def key(
    base_image: str,
    item: PlatformWheelhouse,
    package: SelectedPackage,
    system: syspackages.SystemPackages,
) -> str:
    """The cache key of one sdist's wheel on *item*'s platform (a sha256 hex digest)."""
    target = item.selection.target
    parts = {
        "sdist": package.file.sha256,
        "platform": str(target.platform),
        "python": "{}.{}".format(*target.python_version),
        "build-requirements": sorted(f.sha256 for f in item.build_requirements),
        "base-image": base_image,
        "system-packages": sorted(
            {*system.build, *syspackages.build_needs(package.name, system).packages}
        ),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cached(
    base_image: str,
    house: Wheelhouse,
    *,
    cache: Cache,
    system: syspackages.SystemPackages = syspackages.NONE,
) -> tuple[CompiledWheel, ...]:
    """The wheels the cache already holds for *house*'s pending sdists.

    Only with a base image pinned by digest: a tag may move to another image.
    """
    if "@" not in base_image:
        return ()
    found = []
    for item in house.platforms:
        for package in item.pending:
            record = _record_path(cache, key(base_image, item, package, system))
            wheel = _read_record(record)
            if wheel is not None and cache.lookup(wheel.sha256, wheel.filename) is not None:
                logger.info(
                    "%s for %s: compiled before, %s",
                    package.file.filename,
                    item.selection.target.platform,
                    wheel.filename,
                )
                found.append(wheel)
    return tuple(found)


def remember(
    base_image: str,
    house: Wheelhouse,
    compiled: Sequence[CompiledWheel],
    *,
    cache: Cache,
    system: syspackages.SystemPackages = syspackages.NONE,
) -> None:
    """Record each *compiled* wheel under its key, for later builds."""
    if "@" not in base_image:
        return
    for item in house.platforms:
        slug = item.selection.target.platform.slug
        built = {w.sdist_sha256: w for w in compiled if w.platform == slug}
        for package in item.pending:
            wheel = built.get(package.file.sha256)
            if wheel is not None:
                path = _record_path(cache, key(base_image, item, package, system))
                write_atomic(path, json.dumps(asdict(wheel), indent=1, sort_keys=True) + "\n")


def pull_shared(
    base_image: str,
    house: Wheelhouse,
    *,
    cache: Cache,
    shared: SharedCache,
    system: syspackages.SystemPackages = syspackages.NONE,
) -> int:
    """Bring into *cache* the wheels another machine compiled for *house*'s pending
    sdists, with their records; returns how many. A pulled record must name the wheel
    pulled with it, for this sdist and platform, or it is refused."""
    if "@" not in base_image:
        return 0
    pulled = 0
    for item in house.platforms:
        platform = item.selection.target.platform
        for package in item.pending:
            digest = key(base_image, item, package, system)
            path = _record_path(cache, digest)
            known = _read_record(path)
            if known is not None and cache.lookup(known.sha256, known.filename) is not None:
                continue
            found = shared.pull_compiled(
                digest,
                what=f"pulling the wheel of {package.file.filename} for {platform}",
                check=partial(_record_problem, package=package, platform=platform),
            )
            if found is None:
                continue
            write_atomic(path, found.record.decode())
            pulled += 1
    return pulled


def _record_problem(
    found: PulledWheel, *, package: SelectedPackage, platform: Platform
) -> str | None:
    """What is wrong with a pulled record, for *package* on *platform*; None if nothing."""
    record = _parse_record(found.record)
    if record is None:
        return "its record is not a compiled wheel's record"
    if (record.filename, record.sha256) != (found.filename, found.sha256):
        return (
            f"its record names {record.filename} (sha256 {record.sha256}), not the wheel it "
            f"holds ({found.filename}, sha256 {found.sha256})"
        )
    if (record.sdist_sha256, record.platform) != (package.file.sha256, platform.slug):
        return (
            f"its record is for {record.sdist} on {record.platform}, not "
            f"{package.file.filename} on {platform.slug}"
        )
    return None


def push_shared(
    base_image: str,
    house: Wheelhouse,
    wheels: Sequence[CompiledWheel],
    *,
    cache: Cache,
    shared: SharedCache,
    system: syspackages.SystemPackages = syspackages.NONE,
) -> int:
    """Push each of *wheels* (compiled for *house*'s pending sdists) with its record,
    unless the shared cache has it; returns how many were pushed."""
    if "@" not in base_image:
        return 0
    pushed = 0
    for item in house.platforms:
        slug = item.selection.target.platform.slug
        built = {w.sdist_sha256: w for w in wheels if w.platform == slug}
        for package in item.pending:
            wheel = built.get(package.file.sha256)
            if wheel is None:
                continue
            digest = key(base_image, item, package, system)
            record = _record_path(cache, digest).read_bytes()
            pushed += shared.push_compiled(
                digest,
                record,
                sha256=wheel.sha256,
                filename=wheel.filename,
                what=f"sharing the wheel of {package.file.filename} for {slug}",
            )
    return pushed


def _record_path(cache: Cache, digest: str) -> Path:
    return cache.root / "compiled" / digest[:2] / f"{digest}.json"


def _read_record(path: Path) -> CompiledWheel | None:
    """The record at *path*; ``None`` when there is none, it is damaged, or it comes
    from a version that did not record run-time needs (compiled again then)."""
    try:
        return _parse_record(path.read_bytes())
    except OSError:
        return None


def _parse_record(text: bytes) -> CompiledWheel | None:
    """A record's bytes as a :class:`CompiledWheel`; ``None`` when it is damaged."""
    try:
        data = json.loads(text)
        values: dict[str, object] = {}
        for name in CompiledWheel.__dataclass_fields__:
            value = data[name]
            if isinstance(value, list):
                if not all(isinstance(v, str) for v in value):
                    return None
                values[name] = tuple(value)
            elif isinstance(value, str):
                values[name] = value
            else:
                return None
        return CompiledWheel(**values)  # type: ignore[arg-type]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def derived_packages(house: Wheelhouse) -> plan.DerivedPackages:
    """The Debian packages *house*'s compiled wheels need at run time: those of the
    app's dependencies (every image) and those each server adds."""
    base: set[str] = set()
    per_server: dict[str, set[str]] = {}
    for item in house.platforms:
        by_sdist = {w.sdist_sha256: w for w in item.compiled}
        for package in item.selection.base.packages:
            if package.file.sha256 in by_sdist:
                base.update(by_sdist[package.file.sha256].run_packages)
        for name, selection in item.selection.servers.items():
            for package in selection.packages:
                if package.file.sha256 in by_sdist:
                    per_server.setdefault(name, set()).update(
                        by_sdist[package.file.sha256].run_packages
                    )
    return plan.DerivedPackages(
        base=tuple(sorted(base)),
        servers=tuple(sorted((n, tuple(sorted(p - base))) for n, p in per_server.items())),
    )


def check_libraries(house: Wheelhouse, system: syspackages.SystemPackages) -> list[str]:
    """One line per compiled wheel and what it needs at run time.

    A wheel that links against a library no Debian package provides is an error,
    unless the project declares run packages for it (they must provide it then).
    """
    lines, missing = [], []
    for item in house.platforms:
        names = {p.file.sha256: p.name for p in item.selection.all_packages}
        for wheel in item.compiled:
            needs = ", ".join(wheel.run_packages) or "nothing beyond the base image"
            lines.append(f"{wheel.filename} ({wheel.platform}) needs at run time: {needs}")
            name = names.get(wheel.sdist_sha256, wheel.sdist)
            own = system.declared(name)
            if wheel.unresolved and not system.run and not (own and own.run):
                missing.append((wheel, name))
    if missing:
        wheel, name = missing[0]
        raise ConfigError(
            f"{wheel.filename}, compiled from {wheel.sdist} for {wheel.platform}, links "
            f"against {', '.join(wheel.unresolved)}, which no Debian package in the "
            "compile build provides",
            hint="declare the Debian package that ships it, e.g.\n\n"
            f'[tool.containerize.system-packages.sdists.{name}]\nrun = ["libfoo1"]\n\n'
            "(find it with 'apt-file search " + wheel.unresolved[0] + "')",
        )
    return lines


def platforms(house: Wheelhouse) -> tuple[Platform, ...]:
    """The platforms that have sdists left to compile."""
    return tuple(item.selection.target.platform for item in house.platforms if item.pending)


def invocation(
    folder: BuildFolder,
    build_plan: plan.BuildPlan,
    targets: Sequence[Platform],
    *,
    builder: str | None,
    no_cache: bool,
    build_cache: buildcache.CacheSettings = buildcache.NONE,
) -> buildx.BuildInvocation:
    """The compile build for *targets*, reading the build folder's ``compile`` (pure)."""
    return plan.compile_invocation(
        build_plan,
        context=folder.compile,
        wheelhouse=folder.wheelhouse,
        tools=folder.tools,
        platforms=targets,
        dest=folder.compiled,
        builder=builder,
        build_cache=build_cache,
        no_cache=no_cache,
    )


def write_context(folder: BuildFolder, build_plan: plan.BuildPlan) -> Path:
    """Write the build folder's ``compile``: the compile Dockerfile and the build step
    scripts."""
    dest = folder.compile
    with replacing_dir(dest) as staging:
        (staging / "Dockerfile").write_text(compilefile.render_compile(build_plan))
        for name, data in plan.buildsteps_files().items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return dest


def compile_pending(
    folder: BuildFolder,
    build_plan: plan.BuildPlan,
    house: Wheelhouse,
    *,
    cache: Cache,
    builder: str | None,
    no_cache: bool = False,
    build_cache: buildcache.CacheSettings = buildcache.NONE,
) -> tuple[CompiledWheel, ...]:
    """Compile every pending sdist of *house*, keep the wheels in *cache*, say which.

    A local package pending on this machine's platform and on another is built
    natively first: when its wheel is pure Python (``py3-none-any``), that wheel
    serves every platform and nothing is built under emulation for it.
    """
    if not platforms(house):
        return ()
    write_context(folder, build_plan)
    run = partial(
        _compile, folder, build_plan, cache=cache, builder=builder, no_cache=no_cache,
        build_cache=build_cache,
    )  # fmt: skip
    compiled: list[CompiledWheel] = []
    first = _native_locals(build_plan, house)
    if first is not None:
        native = run(first)
        compiled += native
        house, shared = _served_by_pure(house, native)
        compiled += shared
    if platforms(house):
        compiled += run(house)
    return tuple(compiled)


def _compile(
    folder: BuildFolder,
    build_plan: plan.BuildPlan,
    house: Wheelhouse,
    *,
    cache: Cache,
    builder: str | None,
    no_cache: bool,
    build_cache: buildcache.CacheSettings,
) -> list[CompiledWheel]:
    """One compile build for the pending sdists of *house*'s platforms that have any
    (each platform's ``compile.json`` written to say which)."""
    targets = platforms(house)
    for item in house.platforms:
        if item.pending:
            _write_compile_manifest(item)
    inv = invocation(
        folder, build_plan, targets, builder=builder, no_cache=no_cache, build_cache=build_cache
    )
    compiled: list[CompiledWheel] = []
    with replacing_dir(folder.compiled) as staging:
        buildx.build(_into(inv, staging))
        for item in house.platforms:
            if item.pending:
                compiled += _collect(
                    item, buildx.split_folder(staging, item.selection.target.platform), cache
                )
    return compiled


def _write_compile_manifest(item: PlatformWheelhouse) -> None:
    """``compile.json`` of *item*'s folder: its pending sdists, as the wheelhouse
    writes it."""
    entries = [
        {"name": p.name, "version": str(p.version), "file": p.file.filename,
         "sha256": p.file.sha256}
        for p in item.pending
    ]  # fmt: skip
    write_atomic(
        item.folder / "compile.json",
        json.dumps({"sdists": entries}, indent=1, sort_keys=True) + "\n",
    )


def _native_locals(build_plan: plan.BuildPlan, house: Wheelhouse) -> Wheelhouse | None:
    """*house* with only the local packages pending natively that another platform
    needs too; None when there are none (or this machine builds no target natively)."""
    if not build_plan.check_is_native:
        return None
    native = build_plan.check_platform
    others = {
        p.file.sha256
        for item in house.platforms
        if item.selection.target.platform != native
        for p in item.pending
        if p.package.local is not None
    }
    items = []
    for item in house.platforms:
        chosen: tuple[SelectedPackage, ...] = ()
        if item.selection.target.platform == native:
            chosen = tuple(
                p for p in item.pending if p.package.local is not None and p.file.sha256 in others
            )
        items.append(replace(item, pending=chosen))
    if not any(item.pending for item in items):
        return None
    return replace(house, platforms=tuple(items))


def _served_by_pure(
    house: Wheelhouse, native: Sequence[CompiledWheel]
) -> tuple[Wheelhouse, list[CompiledWheel]]:
    """*house* without what the *native* wheels settle: their own sdists on their
    platform, and on every other platform those whose wheel is pure Python; and the
    pure wheels, one record per other platform that takes them."""
    done = {(w.platform, w.sdist_sha256) for w in native}
    pure = {w.sdist_sha256: w for w in native if _is_pure(w.filename)}
    items, shared = [], []
    for item in house.platforms:
        slug = item.selection.target.platform.slug
        left = []
        for package in item.pending:
            sha256 = package.file.sha256
            if (slug, sha256) in done:
                continue
            if sha256 in pure:
                wheel = replace(pure[sha256], platform=slug)
                logger.info(
                    "%s for %s: the pure-Python wheel built natively, %s",
                    package.file.filename,
                    item.selection.target.platform,
                    wheel.filename,
                )
                shared.append(wheel)
                continue
            left.append(package)
        items.append(replace(item, pending=tuple(left)))
    return replace(house, platforms=tuple(items)), shared


def _is_pure(filename: str) -> bool:
    """Whether the wheel *filename* installs on every platform (``none-any`` tags)."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return all(tag.abi == "none" and tag.platform == "any" for tag in tags)


def _into(inv: buildx.BuildInvocation, dest: Path) -> buildx.BuildInvocation:
    """*inv* exporting into *dest* (the staging folder of ``compiled``)."""
    return replace(inv, output=buildx.Output(kind="local", dest=dest))


def _collect(item: PlatformWheelhouse, folder: Path, cache: Cache) -> list[CompiledWheel]:
    """The wheel of each pending sdist, from *folder* into *cache*, with what the
    compile build found it needs at run time."""
    platform = item.selection.target.platform
    records = _compiled_records(folder / COMPILED_RECORD)
    found = {}
    for path in sorted(folder.glob("*.whl")) if folder.is_dir() else ():
        try:
            name, version, _, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        found[(canonicalize_name(name), str(version))] = path
    compiled = []
    for package in item.pending:
        wheel = found.get((package.name, str(package.version)))
        if wheel is None:
            raise EngineError(
                f"the compile build for {platform} gave no wheel for {package.file.filename} "
                f"(found: {', '.join(sorted(p.name for p in found.values())) or 'nothing'})",
                hint="read the compile build's log above; the sdist's build may name "
                "its wheel differently from the lock",
            )
        sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
        entry = cache.entry(sha256, wheel.name)
        if cache.lookup(sha256, wheel.name) is None:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with replacing_file(entry) as partial:
                shutil.copyfile(wheel, partial)
                partial.chmod(0o644)
        logger.info(
            "compiled %s for %s: %s (sha256 %s)",
            package.file.filename,
            platform,
            wheel.name,
            sha256,
        )
        record = records.get(wheel.name)
        if record is None:
            raise EngineError(
                f"the compile build for {platform} recorded nothing about {wheel.name} "
                f"in {COMPILED_RECORD}",
                hint="run the build again with --no-cache",
            )
        compiled.append(
            CompiledWheel(
                sdist=package.file.filename,
                sdist_sha256=package.file.sha256,
                platform=platform.slug,
                filename=wheel.name,
                sha256=sha256,
                run_packages=_strings(record, "run_packages"),
                libraries=_strings(record, "libraries"),
                unresolved=_strings(record, "unresolved"),
                build_packages=_strings(record, "build_packages"),
            )
        )
    return compiled


def _compiled_records(path: Path) -> dict[str, dict[str, object]]:
    """What the compile build wrote about each wheel (``compiled.json``), by file name."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"the compile build wrote no readable {path.name}: {exc}",
            hint="run the build again with --no-cache",
        ) from None
    wheels = data.get("wheels") if isinstance(data, dict) else None
    if not isinstance(wheels, dict):
        raise EngineError(f"{path}: no 'wheels' table", hint="run the build again with --no-cache")
    return {k: v for k, v in wheels.items() if isinstance(v, dict)}


def _strings(record: dict[str, object], key: str) -> tuple[str, ...]:
    value = record.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EngineError(f"{COMPILED_RECORD}: {key} is not a list of strings: {value!r}")
    return tuple(value)
