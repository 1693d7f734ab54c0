#!/usr/bin/env python3
"""Regenerate containerize's own locks: the servers' and the build tools'.

``containerize/servers/servers.pylock.toml``: containerize installs a WSGI server from
this lock only when the project's lock does not pin the server's distribution (see
``containerize.resolve.ownlocks``). With it, ``containerize/servers/servers-build.lock``:
what the lock's sdists (mod_wsgi, which has no wheels) are built with, so a project
that builds them needs no ``containerize-build.lock`` of its own; ``--build-requirements``
makes this one alone, from the servers' lock as it is. With ``--tools``,
``containerize/buildsteps/tools.pylock.toml``: the tools containerize runs (pypa's
installer, and pip to build sdists, inside build steps; see ``containerize.buildsteps``;
and uv, which ``containerize lock`` runs; see ``containerize.resolve.locking``).

Each lock is made by uv against the index of *your* pip configuration (``index-url``, else pip's
default; with ``--extra-indexes`` also the ``extra-index-url`` ones), read the way
containerize reads it, so credentials and the CA bundle apply. uv's output is then
rewritten:

* every file keeps its name, size, upload time and hashes, but loses its URL, so the
  committed file names no index host; containerize fetches each file by name from the
  user's configured indexes and checks its hash;
* wheels that no CPython of :data:`PYTHONS` on Linux x86_64 or aarch64 (glibc or musl)
  can install are left out; source distributions are kept;
* each package gets the ``dependencies`` uv's ``pylock.toml`` output leaves out, taken
  from the ``# via`` annotations of the same resolution written as requirements, so
  containerize walks one server's closure instead of installing the whole lock;
* ``requires-python`` says which Pythons the lock was made for.

The build requirements are resolved the way ``containerize pin`` resolves a project's:
each sdist that some target of :data:`PLATFORMS` and :data:`PYTHONS` (glibc) has no
wheel for is fetched by name from your configured indexes and checked against the
lock's hash, its ``[build-system] requires`` read, and those requirements resolved by
pip, with your pip configuration, to wheels for that platform and Python, recorded by
name and sha256 in the format of ``containerize-build.lock``.

Run it from anywhere, with containerize installed (``pip install -e .``)::

    python3 scripts/lock-servers.py [--tools | --build-requirements] [--uv PATH] [--output FILE]

It resolves afresh: the newest versions :data:`ROOTS` (or :data:`TOOL_ROOTS`) allow.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import tomlkit
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from tomlkit.items import InlineTable, Table

from containerize import process
from containerize.errors import ContainerizeError
from containerize.fsutil import write_atomic
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.resolve import buildlock
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FileRequest, fetch
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.pipconfig import IndexSettings, IndexSource, discover
from containerize.targets import LibcName, TargetEnvironment, compute_tags

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "containerize" / "servers" / "servers.pylock.toml"
BUILD_OUTPUT = REPO / "containerize" / "servers" / "servers-build.lock"
TOOLS_OUTPUT = REPO / "containerize" / "buildsteps" / "tools.pylock.toml"

#: The distributions the lock is made for: every server's, and WhiteNoise, which serves
#: static files for the servers that cannot.
ROOTS = ("cheroot>=10", "gunicorn>=23", "mod-wsgi>=5", "pyuwsgi>=2.0", "whitenoise>=6")
#: The tools containerize runs: installer places wheels for any platform, pip builds
#: sdists (both in build steps), uv resolves ``containerize lock`` (pinned exactly: its
#: command line and output format are what containerize was tested with).
TOOL_ROOTS = ("installer>=0.7", "pip>=24", "uv==0.13.9")
#: The CPython versions the lock covers; its ``requires-python`` says so.
PYTHONS = ((3, 11), (3, 12), (3, 13))
PLATFORMS = (LINUX_AMD64, LINUX_ARM64)
#: Generous ceilings, so that a wheel for any glibc or musl release is kept: the
#: selection picks per target what its own C library accepts.
LIBCS: tuple[tuple[LibcName, tuple[int, int]], ...] = (("glibc", (2, 99)), ("musl", (1, 9)))

HEADER = """\
containerize's own lock of the WSGI servers it supports (PEP 751).

A server's image takes its distribution from here only when the project's lock does
not pin it; the project's pin always wins. Files carry no URL: they are fetched by
name from the indexes of the user's pip configuration and checked against these
hashes. Wheels are kept for CPython {pythons} on Linux x86_64 and aarch64.

Do not edit by hand. Regenerate with uv on PATH (or --uv PATH):
    python3 scripts/lock-servers.py
Roots: {roots}
"""

TOOLS_HEADER = """\
containerize's own lock of the tools it runs (PEP 751).

installer places each platform's wheels into the image's virtual environment, on the
build platform; pip builds sdists, offline, on the target platform: both run inside
build steps. uv resolves 'containerize lock', on this machine, from the wheel for its
architecture. Each is fetched by name from the indexes of the user's pip
configuration and checked against these hashes, like every other file. Made for
CPython {pythons}.

Do not edit by hand. Regenerate with uv on PATH (or --uv PATH):
    python3 scripts/lock-servers.py --tools
Roots: {roots}
"""

BUILD_HEADER = """\
What the sdists of containerize's own servers' lock (servers.pylock.toml) are built
with, for each target platform and Python, pinned by sha256; the format of a project's
containerize-build.lock. A project that builds mod_wsgi from containerize's lock takes
its build requirements from here, not from its own containerize-build.lock.

Do not edit by hand. Made with the servers' lock by scripts/lock-servers.py; alone:
    python3 scripts/lock-servers.py --build-requirements"""

_VIA = re.compile(r"^\s*#\s*(?:via\s+)?(?P<name>\S.*?)\s*$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--uv", help="the uv executable (default: $UV, else uv on PATH)")
    parser.add_argument(
        "--tools", action="store_true", help=f"lock the build tools into {TOOLS_OUTPUT.name}"
    )
    parser.add_argument(
        "--build-requirements",
        action="store_true",
        help=f"make {BUILD_OUTPUT.name} alone, from the servers' lock as it is",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"default: {OUTPUT}, with --tools {TOOLS_OUTPUT}, "
        f"with --build-requirements {BUILD_OUTPUT}",
    )
    parser.add_argument(
        "--extra-indexes",
        action="store_true",
        help="also resolve against pip's extra-index-url indexes (often partial mirrors)",
    )
    args = parser.parse_args(argv)
    if args.tools and args.build_requirements:
        parser.error("--tools and --build-requirements make different files: choose one")
    if args.build_requirements:
        return _main_build_requirements(args.output or BUILD_OUTPUT, OUTPUT)
    uv = args.uv or os.environ.get("UV") or shutil.which("uv")
    if not uv:
        print("error: uv not found; pass --uv PATH or put uv on PATH", file=sys.stderr)
        return 2
    try:
        text = lock_servers(
            uv,
            discover(Path.cwd()),
            extra_indexes=args.extra_indexes,
            roots=TOOL_ROOTS if args.tools else ROOTS,
            header=TOOLS_HEADER if args.tools else HEADER,
        )
    except ContainerizeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    output = args.output or (TOOLS_OUTPUT if args.tools else OUTPUT)
    write_atomic(output, text)
    print(f"wrote {output}")
    if args.tools:
        return 0
    # The servers' sdists may have changed: their build requirements go with them.
    build_output = output.with_name(BUILD_OUTPUT.name) if args.output else BUILD_OUTPUT
    return _main_build_requirements(build_output, output)


def _main_build_requirements(output: Path, servers_lock: Path) -> int:
    try:
        entries = build_requirements(servers_lock, discover(Path.cwd()), Cache.default())
    except ContainerizeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    buildlock.write(output, entries, header=BUILD_HEADER)
    for entry in entries.values():
        pins = ", ".join(f"{f.name} {f.version}" for f in entry.files)
        print(f"  {entry.platform}, Python {entry.python}: {', '.join(entry.requires)}: {pins}")
    print(f"wrote {output}")
    return 0


def build_requirements(
    servers_lock: Path, settings: IndexSettings, cache: Cache
) -> dict[tuple[str, str, tuple[str, ...]], buildlock.Entry]:
    """What each sdist of *servers_lock* is built with, on every target that has no
    wheel for it, resolved by pip with *settings*' indexes (see the module docstring)."""
    lock = read_pylock(servers_lock)
    entries: dict[tuple[str, str, tuple[str, ...]], buildlock.Entry] = {}
    for platform in PLATFORMS:
        for python in PYTHONS:
            target = TargetEnvironment.from_config(platform, python)
            ranks = target.tag_ranks()
            requests = [
                FileRequest(
                    name=package.name,
                    version=str(package.version),
                    filename=package.sdist.filename,
                    sha256=package.sdist.sha256,
                )
                for package in lock.packages
                if package.sdist is not None
                and not any(tag in ranks for wheel in package.wheels for tag in wheel.tags)
            ]
            fetched = fetch(requests, settings=settings, cache=cache)
            for request in requests:
                requires = buildlock.sdist_requires(fetched.path(request.filename))
                key = buildlock.key_for(target, requires)
                if key not in entries:
                    entries[key] = buildlock.resolve(sorted(set(requires)), target, cache=cache)
    return entries


def lock_servers(
    uv: str,
    settings: IndexSettings,
    *,
    extra_indexes: bool = False,
    roots: tuple[str, ...] = ROOTS,
    header: str = HEADER,
) -> str:
    """The finished lock text: uv's resolution of *roots*, rewritten as the module
    docstring says, under *header*."""
    env = _uv_environment(settings, extra_indexes=extra_indexes)
    with tempfile.TemporaryDirectory(prefix="lock-servers-") as tmp:
        folder = Path(tmp)
        (folder / "servers.in").write_text("\n".join(roots) + "\n")
        _compile(uv, folder, env, "--format", "pylock.toml", "--output-file", "pylock.toml")
        resolved = tomllib.loads((folder / "pylock.toml").read_text())
        # The same resolution again, as requirements whose annotations name the edges;
        # constrained to the pins just made, so it cannot drift.
        pins = [f"{p['name']}=={p['version']}" for p in resolved["packages"]]
        (folder / "pins.txt").write_text("\n".join(pins) + "\n")
        annotated = _compile(
            uv, folder, env, "--constraints", "pins.txt", "--annotation-style", "split"
        )
    parents = _parents(annotated)
    locked = {canonicalize_name(p["name"]) for p in resolved["packages"]}
    if set(parents) != locked:
        raise ContainerizeError(
            f"the two resolutions differ: {sorted(set(parents) ^ locked)}",
            hint="run the script again; if it persists, report it",
        )
    text = _header(header, roots) + tomlkit.dumps(_document(resolved, parents))
    if "://" in text:
        raise ContainerizeError("the rewritten lock still holds a URL", hint="fix the script")
    return text


def _compile(uv: str, folder: Path, env: Mapping[str, str], *options: str) -> str:
    argv = [
        uv, "pip", "compile", "servers.in", "--universal", "--no-config", "--no-header",
        "--python-version", "{}.{}".format(*PYTHONS[0]), "--index-strategy", "unsafe-best-match",
        "--quiet", *options,
    ]  # fmt: skip
    return process.run(argv, cwd=folder, env=env, timeout=600).stdout


def _uv_environment(settings: IndexSettings, *, extra_indexes: bool) -> dict[str, str]:
    """pip's index (and with *extra_indexes* the others, in pip's order) for uv.

    They go in the environment, credentials included, not on the command line, which
    is logged. Like pip, uv then takes the best match across them.
    """
    if settings.no_index or not settings.indexes:
        raise ContainerizeError(
            "pip's configuration names no index to lock against",
            hint="set index-url in pip.conf or PIP_INDEX_URL",
        )
    first, *others = (_with_credentials(index) for index in settings.indexes)
    env = {"UV_DEFAULT_INDEX": first, "UV_INDEX": " ".join(others) if extra_indexes else ""}
    if settings.cert is not None:
        env["SSL_CERT_FILE"] = str(settings.cert)
    return env


def _with_credentials(index: IndexSource) -> str:
    if index.credentials is None:
        return index.url
    parts = urlsplit(index.url)
    user = quote(index.credentials.username, safe="")
    password = quote(index.credentials.password, safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))


def _parents(requirements: str) -> dict[NormalizedName, set[NormalizedName]]:
    """Each locked name and the locked names that depend on it, from ``# via`` lines."""
    parents: dict[NormalizedName, set[NormalizedName]] = {}
    current: NormalizedName | None = None
    for line in requirements.splitlines():
        if not line.strip():
            continue
        if not line.startswith((" ", "#")):
            current = canonicalize_name(Requirement(line.rstrip(" \\")).name)
            parents.setdefault(current, set())
            continue
        match = _VIA.match(line)
        if current is None or match is None or match["name"] == "via":
            continue
        name = match["name"]
        if not name.startswith("-"):  # '-r servers.in', '-c pins.txt': a root
            parents[current].add(canonicalize_name(name))
    return parents


def _header(header: str, roots: tuple[str, ...]) -> str:
    pythons = ", ".join(f"{major}.{minor}" for major, minor in PYTHONS)
    text = header.format(pythons=pythons, roots=", ".join(roots))
    return "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines()) + "\n"


def _document(
    resolved: Mapping[str, Any], parents: Mapping[NormalizedName, set[NormalizedName]]
) -> tomlkit.TOMLDocument:
    low, high = PYTHONS[0], PYTHONS[-1]
    document = tomlkit.document()
    document["lock-version"] = resolved["lock-version"]
    document["created-by"] = resolved["created-by"]
    document["requires-python"] = f">={low[0]}.{low[1]},<{high[0]}.{high[1] + 1}"
    accepted = _accepted_tags()
    packages = tomlkit.aot()
    for package in resolved["packages"]:
        packages.append(_package(package, accepted, parents))
    document["packages"] = packages
    return document


def _package(
    package: Mapping[str, Any],
    accepted: frozenset[Tag],
    parents: Mapping[NormalizedName, set[NormalizedName]],
) -> Table:
    """One ``[[packages]]`` table: files named, not located; the dependencies added."""
    table = tomlkit.table()
    for key in ("name", "version", "marker", "requires-python"):
        if key in package:
            table[key] = package[key]
    if "sdist" in package:
        table["sdist"] = _file(package["sdist"])
    wheels = [w for w in package.get("wheels", ()) if _tags(w) & accepted]
    if wheels:
        array = tomlkit.array()
        array.multiline(True)
        array.extend(_file(wheel) for wheel in wheels)
        table["wheels"] = array
    name = canonicalize_name(package["name"])
    dependencies = tomlkit.array()
    for child in sorted(child for child, of in parents.items() if name in of):
        entry = tomlkit.inline_table()
        entry["name"] = child
        dependencies.append(entry)
    table["dependencies"] = dependencies
    unknown = set(package) - {*table, "sdist", "wheels", "index"}
    if unknown:
        raise ContainerizeError(
            f"uv wrote keys this script does not know for {name}: {sorted(unknown)}",
            hint="teach scripts/lock-servers.py what they mean",
        )
    return table


def _file(entry: Mapping[str, Any]) -> InlineTable:
    """Name the file instead of locating it: PEP 751 allows a name with hashes."""
    table = tomlkit.inline_table()
    table["name"] = _file_name(entry)
    for key in ("upload-time", "size", "hashes"):
        if key in entry:
            table[key] = entry[key]
    return table


def _file_name(entry: Mapping[str, Any]) -> str:
    if "name" in entry:
        return str(entry["name"])
    return unquote(PurePosixPath(urlsplit(entry["url"]).path).name)


def _tags(wheel: Mapping[str, Any]) -> frozenset[Tag]:
    return parse_wheel_filename(_file_name(wheel))[3]


def _accepted_tags() -> frozenset[Tag]:
    return frozenset(
        tag
        for python in PYTHONS
        for platform in PLATFORMS
        for libc in LIBCS
        for tag in compute_tags(platform, python, libc)
    )


if __name__ == "__main__":
    sys.exit(main())
