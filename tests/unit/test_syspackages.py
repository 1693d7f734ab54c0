"""System packages: the setting, the well-known table, and what a compiled wheel needs.

The run-time needs are found by the build step script on real ELF files of this
machine (Debian, like the base image), with the real ``ldconfig`` and ``dpkg-query``.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from containerize import config, syspackages
from containerize.buildsteps import wheels
from containerize.errors import ConfigError

BZ2 = Path(sys.base_prefix) / "lib" / "python3.11" / "lib-dynload"
REPO = Path(__file__).resolve().parents[2]
needs_debian = pytest.mark.skipif(
    shutil.which("dpkg-query") is None or not BZ2.is_dir(),
    reason="needs a Debian host with Debian's python3.11 (like every CI machine)",
)


def load(table: dict[str, Any], tmp_path: Path) -> config.Config:
    import tomlkit  # noqa: PLC0415

    doc = {"project": {"name": "demo", "version": "1"}, "tool": {"containerize": table}}
    (tmp_path / "pyproject.toml").write_text(tomlkit.dumps(doc))
    return config.load(tmp_path, environ={})


def test_the_setting_is_read_and_sorted(tmp_path: Path) -> None:
    cfg = load(
        {
            "app": "app:app",
            "system-packages": {
                "build": ["libfoo-dev"],
                "run": ["libfoo1", "libbar2"],
                "sdists": {"Psycopg2": {"build": [], "run": ["libpq5"]}, "lxml": {"run": []}},
            },
        },
        tmp_path,
    )
    packages = cfg.system_packages
    assert packages.build == ("libfoo-dev",)
    assert packages.run == ("libbar2", "libfoo1")
    assert packages.declared("psycopg2") == syspackages.SdistPackages(build=(), run=("libpq5",))
    # Declaring only run packages keeps the well-known build packages.
    assert syspackages.build_needs("lxml", packages).origin == "well-known"
    assert syspackages.build_needs("psycopg2", packages).packages == ()
    assert load({"app": "app:app"}, tmp_path).system_packages == syspackages.NONE


@pytest.mark.parametrize(
    ("table", "message", "hint"),
    [
        ("libpq-dev", "system-packages: expected a table", "build = ["),
        ({"biuld": []}, "system-packages: unknown key 'biuld'", "did you mean 'build'?"),
        ({"build": "libpq-dev"}, "system-packages.build: expected a list", "[]"),
        ({"run": ["LibPQ5"]}, "system-packages.run[0]: 'LibPQ5' is not a Debian", "lowercase"),
        ({"build": ["-o", "x"]}, "system-packages.build[0]: '-o' is not a Debian", "apt-cache"),
        ({"sdists": {"psycopg2": ["libpq-dev"]}}, "sdists.psycopg2: expected a table", "build ="),
        ({"sdists": {"psycopg2": {"build": [1]}}}, "sdists.psycopg2.build[0]: 1 is not", "Debian"),
        ({"sdists": {"psycopg2": {"runtime": []}}}, "unknown key 'runtime'", "did you mean 'run'?"),
        ({"sdists": {"PyYAML": {}, "pyyaml": {}}}, "pyyaml is declared twice", "keep one"),
    ],
)
def test_bad_settings_say_where_and_how(
    tmp_path: Path, table: object, message: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load({"app": "app:app", "system-packages": table}, tmp_path)
    assert message in info.value.message
    assert "pyproject.toml: tool.containerize.system-packages" in info.value.message
    assert hint in (info.value.hint or "")


def test_the_table_names_real_debian_packages() -> None:
    for name, packages in syspackages.WELL_KNOWN.items():
        assert packages, name
        for package in packages:
            assert syspackages.check_name(package, name) == package
    found = syspackages.build_needs("psycopg2", syspackages.NONE)
    assert found.line() == (
        "psycopg2: compiled with libpq-dev besides the compiler (containerize's well-known "
        "table; set tool.containerize.system-packages.sdists.psycopg2.build to override, "
        "[] for none)"
    )
    assert syspackages.build_needs("flask", syspackages.NONE).origin == "none"


# -- the ELF reader ----------------------------------------------------------------------


def fake_elf(*, wide: bool, big: bool, needed: list[str], machine: int = 183) -> bytes:
    """A minimal ELF shared object: a header, PT_LOAD and PT_DYNAMIC, a string table."""
    end = ">" if big else "<"
    strings = b"\0" + b"".join(name.encode() + b"\0" for name in needed)
    offsets = [1 + sum(len(n) + 1 for n in needed[:i]) for i in range(len(needed))]
    header_size, ph_size, dyn_size = (64, 56, 16) if wide else (52, 32, 8)
    phoff = header_size
    dyn_at = phoff + 2 * ph_size
    entries = [(1, off) for off in offsets] + [(5, 0x1000 + 0), (0, 0)]
    str_at = dyn_at + len(entries) * dyn_size
    # The string table's address (0x1000) lies in the one PT_LOAD, which maps file
    # offset str_at at 0x1000.
    ident = b"\x7fELF" + bytes([2 if wide else 1, 2 if big else 1, 1]) + b"\0" * 9
    if wide:
        header = ident + struct.pack(end + "HHIQQQIHHHHHH", 3, machine, 1, 0, phoff, 0, 0,
                                     header_size, ph_size, 2, 0, 0, 0)  # fmt: skip
        load = struct.pack(end + "IIQQQQQQ", 1, 5, str_at, 0x1000, 0x1000, len(strings),
                           len(strings), 0x1000)  # fmt: skip
        dyn = struct.pack(end + "IIQQQQQQ", 2, 6, dyn_at, 0, 0, len(entries) * dyn_size,
                          len(entries) * dyn_size, 8)  # fmt: skip
        table = b"".join(struct.pack(end + "qQ", tag, value) for tag, value in entries)
    else:
        header = ident + struct.pack(end + "HHIIIIIHHHHHH", 3, machine, 1, 0, phoff, 0, 0,
                                     header_size, ph_size, 2, 0, 0, 0)  # fmt: skip
        load = struct.pack(end + "IIIIIIII", 1, str_at, 0x1000, 0x1000, len(strings),
                           len(strings), 5, 0x1000)  # fmt: skip
        dyn = struct.pack(end + "IIIIIIII", 2, dyn_at, 0, 0, len(entries) * dyn_size,
                          len(entries) * dyn_size, 6, 4)  # fmt: skip
        table = b"".join(struct.pack(end + "iI", tag, value) for tag, value in entries)
    return header + load + dyn + table + strings


@pytest.mark.parametrize("wide", [True, False])
@pytest.mark.parametrize("big", [True, False])
def test_the_elf_reader_reads_every_class_and_byte_order(wide: bool, big: bool) -> None:
    data = fake_elf(wide=wide, big=big, needed=["libpq.so.5", "libc.so.6"])
    assert wheels.elf_needed(data) == ((2 if wide else 1, 183), ["libpq.so.5", "libc.so.6"])


def test_the_elf_reader_skips_what_is_not_elf_and_refuses_damage() -> None:
    assert wheels.elf_needed(b"#!/bin/sh\n" * 10) is None
    assert wheels.elf_needed(b"\x7fELF not really") is None
    data = bytearray(fake_elf(wide=True, big=False, needed=["libz.so.1"]))
    data[-3:] = b"\xff\xff\xff"  # the string table runs off the end
    with pytest.raises(wheels.StepError, match="damaged"):
        wheels.elf_needed(bytes(data[:-1]))


@needs_debian
def test_the_elf_reader_agrees_with_readelf_on_this_machines_libraries() -> None:
    if shutil.which("readelf") is None:
        pytest.skip("no readelf here")
    for path in sorted(BZ2.glob("*.so"))[:8]:
        listing = subprocess.run(
            ["readelf", "-d", str(path)], capture_output=True, text=True, check=True
        ).stdout
        expected = [line.split("[", 1)[1].rstrip("]") for line in listing.splitlines()
                    if "(NEEDED)" in line]  # fmt: skip
        found = wheels.elf_needed(path.read_bytes())
        assert found is not None
        assert found[1] == expected, path


# -- run-time needs of a wheel -----------------------------------------------------------


def wheel_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    path = tmp_path / "demo-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@needs_debian
def test_a_wheel_needs_the_packages_of_its_libraries_beyond_the_base(tmp_path: Path) -> None:
    bz2 = next(BZ2.glob("_bz2.cpython-311-*.so")).read_bytes()
    sqlite = next(BZ2.glob("_sqlite3.cpython-311-*.so")).read_bytes()
    wheel = wheel_with(
        tmp_path,
        {"demo/_bz2.so": bz2, "demo/_sqlite3.so": sqlite, "demo/__init__.py": b""},
    )
    # The base has libc6 and libbz2-1.0; libsqlite3-0 is what the image must add.
    found = wheels.run_needs(wheel, base={"libc6", "libbz2-1.0"})
    assert found["run_packages"] == ["libsqlite3-0"]
    assert found["unresolved"] == []
    assert "libsqlite3.so.0 (libsqlite3-0)" in found["libraries"]
    assert "libc.so.6 (libc6, in the base image)" in found["libraries"]


@needs_debian
def test_a_library_the_wheel_carries_or_nobody_ships(tmp_path: Path) -> None:
    carried = fake_elf(wide=True, big=False, needed=["libdemo_vendored.so.1"], machine=62)
    missing = fake_elf(wide=True, big=False, needed=["libnowhere-xyz.so.3"], machine=62)
    wheel = wheel_with(
        tmp_path,
        {
            "demo/_a.so": carried,
            "demo.libs/libdemo_vendored.so.1": b"\x7fELF" + b"\0" * 60,
            "demo/_b.so": missing,
        },
    )
    found = wheels.run_needs(wheel, base=set())
    assert found == {
        "run_packages": [],
        "libraries": ["libnowhere-xyz.so.3 (no package)"],
        "unresolved": ["libnowhere-xyz.so.3"],
    }


@needs_debian
def test_the_build_step_records_versions_and_the_base_list(tmp_path: Path) -> None:
    versions = wheels.package_versions(["libc6", "dpkg"])
    assert [v.split("=")[0] for v in versions] == ["dpkg", "libc6"]
    listing = tmp_path / "base.txt"
    listing.write_text("libc6\ndpkg:amd64\n")
    assert wheels.read_base_packages(listing) == {"libc6", "dpkg"}
    with pytest.raises(wheels.StepError, match="cannot read the base image's package list"):
        wheels.read_base_packages(tmp_path / "missing.txt")
