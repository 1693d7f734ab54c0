"""Compiled sdists are kept: the same sdist, platform, Python, build requirements and
base image give the cached wheel back, anything else compiles again.

A real wheelhouse (a loopback index, a real sdist) and a real content cache; the
compile build itself is the integration tests' business.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from test_buildlock import Setup, setup  # noqa: F401  (the fixture)

from containerize import syspackages
from containerize.errors import ConfigError
from containerize.image import compile as compile_mod
from containerize.resolve.wheelhouse import CompiledWheel, Wheelhouse

BASE = "127.0.0.1:5000/containerize/python:3.11-bookworm@sha256:" + "b" * 64
OTHER_BASE = "127.0.0.1:5000/containerize/python:3.11-bookworm@sha256:" + "c" * 64
WHEEL = "native_ext-1.0-cp311-cp311-linux_x86_64.whl"


def compiled_wheel(setup: Setup, house: Wheelhouse) -> CompiledWheel:  # noqa: F811
    """A wheel 'compiled' for the pending sdist, put in the cache as the build does."""
    (item,) = house.platforms
    (package,) = item.pending
    data = b"a wheel compiled for " + package.file.sha256.encode()
    sha256 = hashlib.sha256(data).hexdigest()
    entry = setup.cache.entry(sha256, WHEEL)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(data)
    return CompiledWheel(
        sdist=package.file.filename,
        sdist_sha256=package.file.sha256,
        platform="linux-amd64",
        filename=WHEEL,
        sha256=sha256,
    )


def test_a_compiled_wheel_is_found_again_by_its_inputs(setup: Setup) -> None:  # noqa: F811
    setup.record("80.0")
    house = setup.build()
    wheel = compiled_wheel(setup, house)
    assert compile_mod.cached(BASE, house, cache=setup.cache) == ()

    compile_mod.remember(BASE, house, [wheel], cache=setup.cache)
    (record,) = (setup.cache.root / "compiled").rglob("*.json")
    assert json.loads(record.read_text())["sha256"] == wheel.sha256
    assert compile_mod.cached(BASE, house, cache=setup.cache) == (wheel,)
    # Another base image, or a tag that may move: compile again.
    assert compile_mod.cached(OTHER_BASE, house, cache=setup.cache) == ()
    assert compile_mod.cached(BASE.split("@", 1)[0], house, cache=setup.cache) == ()

    # The wheelhouse then holds the wheel, hashed, and nothing is left to compile.
    again = setup.build_with((wheel,))
    (item,) = again.platforms
    assert item.pending == ()
    manifest = json.loads((item.folder / "install-base.json").read_text())
    assert [(e["file"], e["sha256"]) for e in manifest["wheels"]] == [(WHEEL, wheel.sha256)]
    assert json.loads((item.folder / "compile.json").read_text()) == {"sdists": []}
    assert (item.folder / WHEEL).read_bytes() == setup.cache.entry(wheel.sha256, WHEEL).read_bytes()


def test_other_build_requirements_compile_again(setup: Setup) -> None:  # noqa: F811
    setup.record("80.0")
    house = setup.build()
    compile_mod.remember(BASE, house, [compiled_wheel(setup, house)], cache=setup.cache)
    setup.record("81.0")
    assert compile_mod.cached(BASE, setup.build(), cache=setup.cache) == ()


def test_a_wheel_gone_from_the_cache_or_a_damaged_record_compiles_again(
    setup: Setup,  # noqa: F811
) -> None:
    setup.record("80.0")
    house = setup.build()
    wheel = compiled_wheel(setup, house)
    compile_mod.remember(BASE, house, [wheel], cache=setup.cache)
    entry = setup.cache.entry(wheel.sha256, WHEEL)
    entry.write_bytes(b"changed on disk")
    assert compile_mod.cached(BASE, house, cache=setup.cache) == ()
    assert not entry.exists()  # the cache drops what no longer matches its hash
    (record,) = (setup.cache.root / "compiled").rglob("*.json")
    record.write_text("{not json")
    assert compile_mod.cached(BASE, house, cache=setup.cache) == ()


def test_the_record_lives_in_the_cache_beside_the_files(setup: Setup) -> None:  # noqa: F811
    setup.record("80.0")
    house = setup.build()
    compile_mod.remember(BASE, house, [compiled_wheel(setup, house)], cache=setup.cache)
    (record,) = (setup.cache.root / "compiled").rglob("*.json")
    assert record.parent.parent == setup.cache.root / "compiled"
    assert Path(record.name).stem == compile_mod.key(
        BASE, house.platforms[0], house.platforms[0].pending[0], syspackages.NONE
    )


def test_a_cached_wheel_keeps_what_it_needs_at_run_time(setup: Setup) -> None:  # noqa: F811
    setup.record("80.0")
    house = setup.build()
    wheel = replace(
        compiled_wheel(setup, house),
        run_packages=("libpq5",),
        libraries=("libpq.so.5 (libpq5)", "libc.so.6 (libc6, in the base image)"),
        build_packages=("libpq-dev=15.20-0+deb12u1",),
    )
    compile_mod.remember(BASE, house, [wheel], cache=setup.cache)
    assert compile_mod.cached(BASE, house, cache=setup.cache) == (wheel,)
    # Declaring other build packages for it: compiled again.
    system = syspackages.parse({"sdists": {"native-ext": {"build": ["libfoo-dev"]}}})
    assert compile_mod.cached(BASE, house, cache=setup.cache, system=system) == ()

    again = setup.build_with((wheel,))
    derived = compile_mod.derived_packages(again)
    assert derived.base == ("libpq5",)
    assert compile_mod.check_libraries(again, syspackages.NONE) == [
        f"{WHEEL} (linux-amd64) needs at run time: libpq5"
    ]


def test_a_library_no_package_provides_fails_until_declared(setup: Setup) -> None:  # noqa: F811
    setup.record("80.0")
    house = setup.build()
    wheel = replace(compiled_wheel(setup, house), unresolved=("libnowhere.so.3",))
    again = setup.build_with((wheel,))
    with pytest.raises(ConfigError) as info:
        compile_mod.check_libraries(again, syspackages.NONE)
    assert info.value.message == (
        f"{WHEEL}, compiled from native_ext-1.0.tar.gz for linux-amd64, links against "
        "libnowhere.so.3, which no Debian package in the compile build provides"
    )
    assert "[tool.containerize.system-packages.sdists.native-ext]\nrun = " in (
        info.value.hint or ""
    )
    declared = syspackages.parse({"sdists": {"native-ext": {"run": ["libnowhere3"]}}})
    assert len(compile_mod.check_libraries(again, declared)) == 1


def test_a_record_from_before_run_time_needs_compiles_again(setup: Setup) -> None:  # noqa: F811
    setup.record("80.0")
    house = setup.build()
    wheel = compiled_wheel(setup, house)
    compile_mod.remember(BASE, house, [wheel], cache=setup.cache)
    (record,) = (setup.cache.root / "compiled").rglob("*.json")
    old = json.loads(record.read_text())
    del old["run_packages"]
    record.write_text(json.dumps(old))
    assert compile_mod.cached(BASE, house, cache=setup.cache) == ()
