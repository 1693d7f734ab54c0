"""Wheels in build steps: install hash-checked wheels, build wheels from sdists.

Run inside a build step by the base image's Python, with the standard library only
(and pypa's ``installer``, imported from its hash-checked wheel). Each manifest is JSON
that the wheelhouse writes, naming files in the wheelhouse with their sha256; every
file is checked against it before it is opened, and a mismatch stops the build.

``install``::

    python3 wheels.py install --venv /opt/venv --wheelhouse /wheelhouse \\
        --tools /tools [--with pip] install-base.json [more.json ...]

installs ``{"wheels": [{"file": ..., "sha256": ...}, ...]}`` with installer, whose
wheel ``tools.json`` in the tools folder names (and, ``--with``, that tool too). The
wheels may be for another platform than the one running this: installer only places
files (into the venv's scheme, with console scripts pointing at ``<venv>/bin/python``)
and runs none of the wheel's code.
The venv's Python must be this one's version, which is checked. Bytecode is compiled
afterwards, by ``compileall``, with unchecked-hash pycs.

``build``::

    /opt/build-env/bin/python wheels.py build --wheelhouse /wheelhouse --out /out \\
        compile.json

builds ``{"sdists": [...]}`` on the target platform, run by the Python of a venv that
holds pip and the sdists' build requirements. Each sdist is unpacked under
:data:`SOURCE_ROOT` (always the same path, unlike pip's random temporary folders) and
built with ``pip wheel --no-build-isolation --no-index --no-deps``: the build
requirements are the ones installed, nothing is resolved or downloaded. C compilers
write paths relative to the source folder (``-ffile-prefix-map``), so the same sdist
gives the same bytes wherever it is built.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

INSTALLER_NAME = b"containerize\n"
SOURCE_ROOT = Path("/src")
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
    install_cmd.add_argument("manifests", nargs="+", type=Path)
    build_cmd = commands.add_parser("build", help="build wheels from sdists")
    build_cmd.add_argument("--wheelhouse", type=Path, required=True)
    build_cmd.add_argument("--out", type=Path, required=True)
    build_cmd.add_argument("--source-root", type=Path, default=SOURCE_ROOT)
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
            install(args.venv, wheels, args.tools)
        else:
            entries = load(args.wheelhouse / args.manifest, "sdists")
            sdists = [checked(args.wheelhouse, entry, str(args.manifest)) for entry in entries]
            args.out.mkdir(parents=True, exist_ok=True)
            for sdist in sdists:
                build(sdist, args.out, root=args.source_root)
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


def install(venv: Path, wheels: list[Path], tools: Path) -> None:
    """Install *wheels* into *venv* with installer (the wheel ``tools.json`` names)."""
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
            )
            install_wheel(source, destination, {"INSTALLER": INSTALLER_NAME})
        print(f"installed {path.name}", flush=True)


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
    argv = [
        sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-index",
        "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--no-input",
        "--wheel-dir", str(out), str(source),
    ]  # fmt: skip
    print("+ " + " ".join(argv), flush=True)
    if subprocess.run(argv, env=env, cwd=source, check=False).returncode != 0:
        raise StepError(f"building a wheel from {sdist.name} failed (see pip's output above)")


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


if __name__ == "__main__":
    sys.exit(main())
