"""Wheels in build steps: install hash-checked wheels, build wheels from sdists.

Run inside a build step by the base image's Python, with the standard library only
(and pypa's ``installer``, imported from its hash-checked wheel). Each manifest is JSON
that the wheelhouse writes, naming files in the wheelhouse with their sha256; every
file is checked against it before it is opened, and a mismatch stops the build.

``install``::

    python3 wheels.py install --venv /opt/venv --wheelhouse /wheelhouse \\
        --tools /tools [--with pip] [--root /layer --compile] \\
        install-base.json [more.json ...]

installs ``{"wheels": [{"file": ..., "sha256": ...}, ...]}`` with installer, whose
wheel ``tools.json`` in the tools folder names (and, ``--with``, that tool too). The
wheels may be for another platform than the one running this: installer only places
files (into the venv's scheme, with console scripts pointing at ``<venv>/bin/python``)
and runs none of the wheel's code.
The venv's Python must be this one's version, which is checked. ``--root DIR``
writes the files under DIR (``DIR/opt/venv/...``) while RECORD and the scripts' ``#!``
name the venv itself; ``--compile`` then compiles their bytecode (unchecked-hash pycs,
named as the venv's files) and gives everything under DIR one fixed timestamp, so the
layer copied from DIR is the same bytes whenever its wheels are the same.

``build``::

    /opt/build-env/bin/python wheels.py build --wheelhouse /wheelhouse --out /out \\
        [--base-packages FILE] [--system-package NAME ...] compile.json

builds ``{"sdists": [...]}`` on the target platform, run by the Python of a venv that
holds pip and the sdists' build requirements. Each sdist is unpacked under
:data:`SOURCE_ROOT` (always the same path, unlike pip's random temporary folders) and
built with ``pip wheel --no-build-isolation --no-index --no-deps``: the build
requirements are the ones installed, nothing is resolved or downloaded. C compilers
write paths relative to the source folder (``-ffile-prefix-map``), so the same sdist
gives the same bytes wherever it is built.

After each wheel is built, the shared libraries its ELF files need (``DT_NEEDED``) and
that the wheel does not carry are found on this filesystem (``ldconfig -p``, checked
to be for the same machine) and mapped to the Debian packages that ship them
(``dpkg-query -S``). Packages the base image already has (*--base-packages*, a list
written before anything was installed) are left out; the others are what the wheel
needs at run time. ``compiled.json`` in the output folder records, per wheel, those
run packages, the libraries no package provides, and the versions of the
*--system-package* packages it was compiled with. The ELF files are read here, in
Python, rather than by ``readelf`` or ``ldd``: binutils need not be installed, and
nothing of the wheel is executed (``ldd`` runs the loader, under emulation too).
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import py_compile
import shutil
import struct
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

INSTALLER_NAME = b"containerize\n"
SOURCE_ROOT = Path("/src")
#: Written into the output folder next to the wheels: what each one needs to run.
COMPILED_RECORD = "compiled.json"
FIXED_EPOCH = "315532800"  # 1980-01-01, the earliest date a zip entry can hold


class StepError(Exception):
    """A problem the build log shows in one line."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install_cmd = commands.add_parser("install", help="install wheels into a venv")
    install_cmd.add_argument("--venv", type=Path, required=True)
    install_cmd.add_argument("--wheelhouse", type=Path, required=True)
    install_cmd.add_argument("--tools", type=Path, required=True)
    install_cmd.add_argument("--python-version", help="the target's Python, MAJOR.MINOR")
    install_cmd.add_argument("--with", dest="tools_too", action="append", default=[])
    install_cmd.add_argument(
        "--root", type=Path, help="a staging root: files go to ROOT/VENV, paths name VENV"
    )
    install_cmd.add_argument(
        "--compile", action="store_true",
        help="compile bytecode and give every file under ROOT a fixed timestamp",
    )  # fmt: skip
    install_cmd.add_argument("manifests", nargs="+", type=Path)
    build_cmd = commands.add_parser("build", help="build wheels from sdists")
    build_cmd.add_argument("--wheelhouse", type=Path, required=True)
    build_cmd.add_argument("--out", type=Path, required=True)
    build_cmd.add_argument("--source-root", type=Path, default=SOURCE_ROOT)
    build_cmd.add_argument(
        "--base-packages", type=Path, help="the base image's packages, one name a line"
    )
    build_cmd.add_argument(
        "--system-package", dest="system_packages", action="append", default=[],
        help="a Debian package installed to compile (its version is recorded)",
    )  # fmt: skip
    build_cmd.add_argument("manifest", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            check_python(args.python_version)
            wheels = [
                checked(args.tools, entry, "tools.json")
                for name in args.tools_too
                for entry in load(args.tools / "tools.json", name)
            ]
            for manifest in args.manifests:
                check_compiled(args.wheelhouse / manifest)
                wheels += [
                    checked(args.wheelhouse, entry, str(manifest))
                    for entry in load(args.wheelhouse / manifest, "wheels")
                ]
            install(args.venv, wheels, args.tools, root=args.root)
            if args.compile:
                if args.root is None:
                    raise StepError("--compile needs --root: the folder a layer is made from")
                compile_layer(args.root, args.venv)
        else:
            entries = load(args.wheelhouse / args.manifest, "sdists")
            sdists = [checked(args.wheelhouse, entry, str(args.manifest)) for entry in entries]
            args.out.mkdir(parents=True, exist_ok=True)
            base = read_base_packages(args.base_packages)
            versions = package_versions(args.system_packages)
            records = {}
            for sdist in sdists:
                before = set(args.out.glob("*.whl"))
                build(sdist, args.out, root=args.source_root)
                for wheel in sorted(set(args.out.glob("*.whl")) - before):
                    records[wheel.name] = {
                        "sdist": sdist.name,
                        "build_packages": versions,
                        **run_needs(wheel, base),
                    }
            text = json.dumps({"wheels": records}, indent=1, sort_keys=True) + "\n"
            (args.out / COMPILED_RECORD).write_text(text)
    except StepError as exc:
        print(f"containerize: error: {exc}", file=sys.stderr)
        return 1
    return 0


# -- Manifests --------------------------------------------------------------------------


def load(path: Path, key: str, *, optional: bool = False) -> list[object]:
    """The *key* list of the JSON manifest at *path* (empty if *optional* and absent)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StepError(f"{path}: cannot read the manifest: {exc}") from None
    entries = data.get(key) if isinstance(data, dict) else None
    if entries is None and optional and isinstance(data, dict):
        return []
    if not isinstance(entries, list):
        raise StepError(f"{path}: no {key!r} list")
    return entries


def checked(folder: Path, entry: object, where: str) -> Path:
    """The file an entry names, after its sha256 matched."""
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise StepError(f"{where}: an entry is not {{'file': ..., 'sha256': ...}}: {entry!r}")
    name: str = entry["file"]
    expected = entry.get("sha256")
    if "/" in name or name in ("", ".", ".."):
        raise StepError(f"{where}: {name!r} is not a file name")
    path = folder / name
    if not path.is_file():
        raise StepError(f"{where}: {name} is not in {folder}")
    actual = sha256_of(path)
    if actual != expected:
        raise StepError(f"{where}: {name} has sha256 {actual}, not {expected} as locked")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -- install ----------------------------------------------------------------------------


def check_python(wanted: str | None) -> None:
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if wanted and wanted != running:
        raise StepError(
            f"the target platform's Python is {wanted}, but the build platform's runs "
            f"{running}: use a multi-platform base image whose platforms carry one Python"
        )


def check_compiled(manifest: Path) -> None:
    """Refuse a manifest that still lists sdists without their compiled wheels."""
    pending = load(manifest, "pending", optional=True)
    names = [str(e.get("file")) if isinstance(e, dict) else repr(e) for e in pending]
    if names:
        raise StepError(
            f"{manifest.name}: {', '.join(names)} not compiled for this platform yet: "
            "build with 'containerize build', which compiles sdists first"
        )


def install(venv: Path, wheels: list[Path], tools: Path, *, root: Path | None = None) -> None:
    """Install *wheels* into *venv* with installer (the wheel ``tools.json`` names).

    With *root*, the files are written under it (``ROOT/opt/venv/...``) while every
    path they record (RECORD, the scripts' ``#!``) names *venv*: the folder one image
    layer is copied from, which lands on the venv when the layers are stacked."""
    (entry,) = load(tools / "tools.json", "installer")
    sys.path.insert(0, str(checked(tools, entry, "tools.json")))
    # Importable only once its checked wheel is on sys.path.
    from installer import install as install_wheel  # type: ignore[import-not-found]  # noqa: PLC0415
    from installer.destinations import (  # type: ignore[import-not-found]  # noqa: PLC0415
        SchemeDictionaryDestination,
    )
    from installer.sources import WheelFile  # type: ignore[import-not-found]  # noqa: PLC0415

    # The venv scheme, spelled out: the Python running this need not be the venv's.
    paths = sysconfig.get_paths(scheme="venv", vars={"base": str(venv), "platbase": str(venv)})
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for path in wheels:
        with WheelFile.open(path) as source:
            # Every file in the wheel against its RECORD, before anything is written.
            source.validate_record(validate_contents=True)
            # Where pip puts a wheel's headers in a venv.
            headers = f"{venv}/include/site/{version}/{source.distribution}"
            destination = SchemeDictionaryDestination(
                scheme_dict={**paths, "headers": headers},
                interpreter=str(venv / "bin" / "python"),
                script_kind="posix",
                destdir=None if root is None else str(root),
            )
            install_wheel(source, destination, {"INSTALLER": INSTALLER_NAME})
        print(f"installed {path.name}", flush=True)


def compile_layer(root: Path, venv: Path) -> None:
    """Compile the bytecode of what *root* holds of *venv*, as *venv*'s files
    (unchecked-hash pycs: no timestamps, the same sources give the same bytes), then
    give every file, folder and link under *root* the same fixed timestamp: the layer
    copied from it is the same, byte for byte, whenever its wheels are the same."""
    # A layer none of whose packages this platform installs is an empty folder.
    root.mkdir(parents=True, exist_ok=True)
    staged = root / venv.relative_to(venv.anchor)
    if staged.is_dir():
        ok = compileall.compile_dir(
            str(staged), ddir=str(venv), quiet=1, workers=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )  # fmt: skip
        if not ok:
            raise StepError(f"compiling the bytecode of {venv} failed (see above)")
    when = int(FIXED_EPOCH)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.utime(Path(folder, name), (when, when), follow_symlinks=False)
    os.utime(root, (when, when))
    print(f"compiled {venv} in {root}, timestamps set to {when}", flush=True)


# -- build ------------------------------------------------------------------------------


def build(sdist: Path, out: Path, *, root: Path = SOURCE_ROOT) -> None:
    """Build *sdist*'s wheel into *out* from a fixed folder under *root*, with pip,
    offline."""
    source = unpack(sdist, root / sdist.name)
    env = dict(os.environ)
    # Debug information and __FILE__ then name source files relative to the folder.
    prefix_map = f"-ffile-prefix-map={source}=."
    for flag in ("CFLAGS", "CXXFLAGS"):
        env[flag] = f"{env.get(flag, '')} {prefix_map}".strip()
    # The wheel's own zip entries get this date (wheel clamps to 1980): the same
    # sources give the same wheel bytes, and so the same sha256, on every build.
    env["SOURCE_DATE_EPOCH"] = FIXED_EPOCH
    # A backend that reads its version from git finds no .git here: the version the
    # archive states (a local package's is the one containerize knows) is passed in.
    version = pkg_info_version(source)
    if version is not None:
        for name in PRETEND_VERSION_VARIABLES:
            env.setdefault(name, version)
    argv = [
        sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-index",
        "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--no-input",
        "--wheel-dir", str(out), str(source),
    ]  # fmt: skip
    # The line containerize's error summary looks for: which sdist a failure is in.
    print(f"containerize: compiling {sdist.name}", flush=True)
    print("+ " + " ".join(argv), flush=True)
    if subprocess.run(argv, env=env, cwd=source, check=False).returncode != 0:
        raise StepError(f"building a wheel from {sdist.name} failed (see pip's output above)")


#: What git-reading build backends take instead of asking git: setuptools-scm (and
#: hatch-vcs, which runs it; its newer releases read vcs-versioning's name), and
#: pdm-backend.
PRETEND_VERSION_VARIABLES = (
    "SETUPTOOLS_SCM_PRETEND_VERSION",
    "VCS_VERSIONING_PRETEND_VERSION",
    "PDM_BUILD_SCM_VERSION",
)


def pkg_info_version(source: Path) -> str | None:
    """The ``Version:`` of *source*'s ``PKG-INFO``; ``None`` without one."""
    try:
        text = (source / "PKG-INFO").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first empty line
        key, _, value = line.partition(":")
        if key.strip().lower() == "version" and value.strip():
            return value.strip()
    return None


def unpack(sdist: Path, into: Path) -> Path:
    """Unpack *sdist* into *into*, which it empties first; returns its top-level folder."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            check_names(sdist, archive.namelist())
            archive.extractall(into)  # noqa: S202  (names checked above)
    else:
        with tarfile.open(sdist) as archive:
            members = archive.getmembers()
            check_names(sdist, [m.name for m in members])
            for member in members:
                if not (member.isfile() or member.isdir()):
                    raise StepError(f"{sdist.name}: {member.name} is a link or device; refused")
            # Names and member types are checked above; Pythons with extraction filters
            # (3.11.4 and later, and security updates) check again.
            if hasattr(tarfile, "data_filter"):
                archive.extractall(into, filter="data")
            else:
                archive.extractall(into)  # noqa: S202
    tops = sorted(into.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise StepError(f"{sdist.name}: expected one top-level folder, found {len(tops)} entries")
    return tops[0]


def check_names(sdist: Path, names: list[str]) -> None:
    """Refuse an archive member that would land outside the folder it is unpacked in."""
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            raise StepError(f"{sdist.name}: {name!r} would be written outside its folder")


# -- run-time needs ---------------------------------------------------------------------

_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NEEDED, _DT_STRTAB = 1, 5


def elf_needed(data: bytes) -> tuple[tuple[int, int], list[str]] | None:
    """((class, machine), DT_NEEDED names) of an ELF file; None if it is not one or has
    no dynamic section. Only the program headers are read, as the loader does."""
    if len(data) < 52 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    wide = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    try:
        (machine,) = struct.unpack_from(end + "H", data, 18)
        loads, dynamic = _segments(data, wide, end)
        if dynamic is None:
            return None
        needed, strtab = _dynamic(data, dynamic, wide, end)
        if strtab is None:
            return None
        # DT_STRTAB is an address: find the file offset of the segment that holds it.
        base = next(o + strtab - v for v, o, size in loads if v <= strtab < v + size)
        names = [data[base + n : data.index(b"\0", base + n)].decode() for n in needed]
    except (struct.error, StopIteration, ValueError, UnicodeDecodeError):
        raise StepError(
            "an ELF file in the wheel is damaged: cannot read its dynamic section"
        ) from None
    return (data[4], machine), names


def _segments(
    data: bytes, wide: bool, end: str
) -> tuple[list[tuple[int, int, int]], tuple[int, int] | None]:
    """The (vaddr, offset, size) of each PT_LOAD, and (offset, size) of PT_DYNAMIC."""
    if wide:
        (phoff,) = struct.unpack_from(end + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
    else:
        (phoff,) = struct.unpack_from(end + "I", data, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
    loads, dynamic = [], None
    for i in range(phnum):
        at = phoff + i * phentsize
        if wide:
            p_type, _, offset, vaddr, _, filesz = struct.unpack_from(end + "IIQQQQ", data, at)
        else:
            p_type, offset, vaddr, _, filesz = struct.unpack_from(end + "IIIII", data, at)
        if p_type == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif p_type == _PT_DYNAMIC:
            dynamic = (offset, filesz)
    return loads, dynamic


def _dynamic(
    data: bytes, dynamic: tuple[int, int], wide: bool, end: str
) -> tuple[list[int], int | None]:
    """The DT_NEEDED string offsets and the DT_STRTAB address of a dynamic section."""
    entry = struct.Struct(end + ("qQ" if wide else "iI"))
    needed, strtab = [], None
    for at in range(dynamic[0], dynamic[0] + dynamic[1], entry.size):
        tag, value = entry.unpack_from(data, at)
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            needed.append(value)
        elif tag == _DT_STRTAB:
            strtab = value
    return needed, strtab


def run_needs(wheel: Path, base: set[str]) -> dict[str, list[str]]:
    """What *wheel* needs at run time: ``run_packages`` (Debian packages not in *base*),
    ``libraries`` (every library it needs from the system, 'name (package)'), and
    ``unresolved`` (libraries no package provides)."""
    needed: dict[str, tuple[int, int]] = {}
    carried = set()
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            carried.add(PurePosixPath(info.filename).name)
            if info.is_dir() or not PurePosixPath(info.filename).name.count(".so"):
                continue
            found = elf_needed(archive.read(info))
            if found is not None:
                for name in found[1]:
                    needed.setdefault(name, found[0])
    cache = ld_cache()
    packages, libraries, unresolved = set(), [], []
    for name in sorted(set(needed) - carried):
        owner = owner_of(name, needed[name], cache)
        if owner is None:
            unresolved.append(name)
            libraries.append(f"{name} (no package)")
            continue
        libraries.append(f"{name} ({owner}{', in the base image' if owner in base else ''})")
        if owner not in base:
            packages.add(owner)
    print(f"{wheel.name} needs: {', '.join(libraries) or 'no system library'}", flush=True)
    return {"run_packages": sorted(packages), "libraries": libraries, "unresolved": unresolved}


def ld_cache() -> dict[str, list[str]]:
    """The loader's cache (``ldconfig -p``): paths by library name."""
    paths: dict[str, list[str]] = {}
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return paths
    for line in out.splitlines():
        name, sep, path = line.strip().partition(" => ")
        if sep:
            paths.setdefault(name.split(" (", 1)[0], []).append(path.strip())
    return paths


def owner_of(name: str, kind: tuple[int, int], cache: dict[str, list[str]]) -> str | None:
    """The Debian package that ships the library *name* for this machine (*kind*:
    ELF class and machine), or None."""
    for path in cache.get(name, []):
        try:
            with open(path, "rb") as stream:
                header = stream.read(20)
        except OSError:
            continue
        if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] != kind[0]:
            continue
        end = "<" if header[5] == 1 else ">"
        if struct.unpack_from(end + "H", header, 18)[0] != kind[1]:
            continue
        package = dpkg_owner(path)
        if package is not None:
            return package
    return None


def dpkg_owner(path: str) -> str | None:
    """The package ``dpkg-query -S`` says owns *path* (merged /usr: both spellings,
    and the file a symlink points to)."""
    real = os.path.realpath(path)
    candidates = []
    for p in (path, real):
        candidates += [p, p[4:] if p.startswith("/usr/") else "/usr" + p]
    for candidate in dict.fromkeys(candidates):
        result = subprocess.run(
            ["dpkg-query", "-S", candidate], capture_output=True, text=True, check=False
        )
        for line in result.stdout.splitlines():
            owners, sep, _ = line.partition(": ")
            if sep and not line.startswith("diversion by"):
                return owners.split(",")[0].strip().split(":")[0]
    return None


def read_base_packages(path: Path | None) -> set[str]:
    """The base image's package names (the list written before any install)."""
    if path is None:
        return set()
    try:
        return {line.split(":")[0].strip() for line in path.read_text().splitlines() if line}
    except OSError as exc:
        raise StepError(f"cannot read the base image's package list {path}: {exc}") from None


def package_versions(names: list[str]) -> list[str]:
    """'name=version' of each installed package in *names* (what a wheel was built with)."""
    if not names:
        return []
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}=${Version}\n", *sorted(set(names))],
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted(line for line in result.stdout.splitlines() if "=" in line)


if __name__ == "__main__":
    sys.exit(main())
