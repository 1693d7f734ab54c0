"""The pipeline's steps, each alone, and how the configuration travels through them."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import containerize
from containerize import config, reference, syspackages
from containerize.buildfolder import OWN_ENTRIES, BuildFolder
from containerize.engine import probes
from containerize.image import dockerfile, pins, pipeline, plan, revision
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.resolve import filenames, wheelhouse
from containerize.resolve import lock as lockmod
from containerize.resolve.cache import Cache
from containerize.resolve.wheelhouse import Needs
from containerize.targets import TargetEnvironment

REF = "127.0.0.1:5000/containerize/python:3.11-bookworm"
DIGEST = "sha256:" + "b" * 64


@pytest.fixture
def hello(fixtures_dir: Path, tmp_path: Path) -> config.Config:
    project = tmp_path / "hello"
    # Not what a build of the fixture leaves behind (nox -s image): its build folder,
    # and the pins file that pins the base image to what this machine built.
    shutil.copytree(
        fixtures_dir / "hello-wsgi",
        project,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
    )
    return config.load(project, environ={})


@pytest.fixture
def offline(tmp_path: Path) -> pipeline.Machine:
    return pipeline.Machine(cache=Cache(root=tmp_path / "cache"), native_arch="amd64", engine=False)


def test_the_base_is_pinned_from_the_pins_file_without_the_engine(tmp_path: Path) -> None:
    pins_file = tmp_path / "containerize.lock"
    unpinned = pins.pin_base(
        REF, pins_file=pins_file, builder=None, engine=False, record=True, refresh=False
    )
    assert unpinned.image == REF
    assert unpinned.notices == (
        f"note: {REF} is not pinned yet; a build with the engine pins it in containerize.lock",
    )
    pins.write(pins_file, REF, DIGEST)
    pinned = pins.pin_base(
        REF, pins_file=pins_file, builder=None, engine=False, record=True, refresh=False
    )
    assert pinned == pins.Base(image=f"{REF}@{DIGEST}")
    given = f"{REF}@{DIGEST}"
    assert pins.pin_base(
        given, pins_file=tmp_path / "none", builder=None, engine=False, record=False, refresh=True
    ) == pins.Base(image=given)


def test_targets_without_the_engine_come_from_the_configuration() -> None:
    targets = probes.learn_targets(
        REF,  # not pinned: no probe cache applies
        (LINUX_AMD64, LINUX_ARM64),
        engine=False,
        python_version=(3, 12),
        libc=("glibc", (2, 36)),
    )
    assert targets == (
        TargetEnvironment.from_config(LINUX_AMD64, (3, 12), ("glibc", (2, 36))),
        TargetEnvironment.from_config(LINUX_ARM64, (3, 12), ("glibc", (2, 36))),
    )


def test_resolve_is_its_steps(hello: config.Config, offline: pipeline.Machine) -> None:
    resolved = pipeline.resolve(hello, offline)
    targets = probes.learn_targets(
        REF, hello.platforms, engine=False, python_version=hello.python_version, libc=hello.libc
    )
    assert resolved.targets == targets
    lock = filenames.name_files(
        lockmod.load_locks(hello.project_dir, hello.locks),
        resolved.settings,
        names=offline.cache.root / "names",
    )
    wanted = pipeline.wanted(hello)
    selections = tuple(wheelhouse.select_all(wanted, lock, hello.project, t) for t in targets)
    assert resolved.selections == selections
    assert resolved.notes[1:] == wheelhouse.notices(selections, native_arch="amd64")
    assert resolved.needs == wheelhouse.needs(selections)
    assert resolved.build_needs == wheelhouse.build_needs_lines(
        hello.system_packages, resolved.needs.sdists
    )
    assert resolved.notices == (*resolved.notes, *resolved.build_needs)


def test_notices_say_which_sdists_compile_under_emulation(
    hello: config.Config, offline: pipeline.Machine
) -> None:
    selections = pipeline.resolve(hello, offline).selections
    on_amd64 = wheelhouse.notices(selections, native_arch="amd64")
    on_arm64 = wheelhouse.notices(selections, native_arch="arm64")
    assert any("linux/arm64" in line and "under emulation" in line for line in on_amd64)
    assert any("linux/amd64" in line and "under emulation" in line for line in on_arm64)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the plan, the Dockerfile and the git stamp are made."""
    calls = {"make_plan": 0, "render": 0, "stamp": 0}

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(plan, "make_plan", counting("make_plan", plan.make_plan))
    monkeypatch.setattr(dockerfile, "render", counting("render", dockerfile.render))
    monkeypatch.setattr(revision, "stamp", counting("stamp", revision.stamp))
    return calls


def test_a_dry_run_plans_and_renders_once(
    hello: config.Config, offline: pipeline.Machine, counted: dict[str, int]
) -> None:
    prepared = pipeline.prepare(hello, offline, output="load", dry_run=True)
    assert counted == {"make_plan": 1, "render": 1, "stamp": 1}
    assert prepared.compile is not None  # mod_wsgi is an sdist: the compile build is shown
    assert prepared.folder == BuildFolder.at(hello.build_dir)
    assert not hello.build_dir.exists()  # a dry run writes nothing


def test_derived_packages_join_the_plan_once_compiled(hello: config.Config) -> None:
    """What compiled wheels need at run time is added to the plan made before they were
    compiled, as if it had been known from the start."""
    system = syspackages.SystemPackages(run=("libfoo1",))
    derived = plan.DerivedPackages(
        base=("libpq5",), servers=(("mod_wsgi", ("libxml2", "libfoo1")),)
    )
    first = _plan(hello, system)
    later = plan.with_derived(first, derived, system)
    assert later == _plan(hello, system, derived)
    assert later.runtime_packages == ("libfoo1", "libpq5")
    mod_wsgi = next(s for s in later.servers if s.name == "mod_wsgi")
    assert "libxml2" in mod_wsgi.runtime_packages
    assert "libfoo1" not in mod_wsgi.runtime_packages  # the runtime stage has it


def _plan(
    cfg: config.Config,
    system: syspackages.SystemPackages,
    derived: plan.DerivedPackages | None = None,
) -> plan.BuildPlan:
    return plan.make_plan(
        replace(cfg, system_packages=system),
        base=reference.parse(f"{REF}@{DIGEST}", where="base image"),
        python="/usr/bin/python3",
        python_version=(3, 11),
        needs=Needs(
            base_has_sdists=False, server_has_sdists={"mod_wsgi": True}, base_is_empty=True
        ),
        revision=None,
        created=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        native_arch="amd64",
        derived=derived,
    )


def test_the_build_folder_names_each_part_once(tmp_path: Path) -> None:
    folder = BuildFolder.at(tmp_path)
    parts = {
        name: getattr(folder, name) for name in BuildFolder.__dataclass_fields__ if name != "root"
    }
    assert all(path.parent == tmp_path for path in parts.values())
    assert len(set(parts.values())) == len(parts)
    # A folder holding only what containerize writes may be claimed again.
    assert {path.name for path in parts.values()} <= set(OWN_ENTRIES) | {folder.marker.name}
    assert folder.dockerfile == folder.context / "Dockerfile"


# --- how the configuration travels ---------------------------------------------------

PACKAGE = str(Path(containerize.__file__).parent)


def follow(value: object, run: Callable[[], object]) -> list[str]:
    """The modules of the functions *value* is passed to while *run* runs, in call order
    (its own methods and properties left out)."""
    seen: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        code = frame.f_code
        if event != "call" or not code.co_filename.startswith(PACKAGE):
            return
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if names and names[0] == "self":
            names = names[1:]
        if any(frame.f_locals.get(name) is value for name in names):
            seen.append(frame.f_globals["__name__"])

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return seen


def returns(modules: list[str]) -> Iterator[str]:
    """Each time the path goes back into a module it had left."""
    left: set[str] = set()
    previous = None
    for module in modules:
        if module != previous:
            if module in left:
                yield module
            if previous is not None:
                left.add(previous)
        previous = module


def test_the_configuration_does_not_wander(hello: config.Config, offline: pipeline.Machine) -> None:
    """Followed from the pipeline's entry point, the configuration stays near the top:
    steps below get the few fields they need, and the lock readers never see it."""
    path = follow(hello, lambda: pipeline.prepare(hello, offline, output="load", dry_run=True))
    assert path[0] == "containerize.image.pipeline"
    assert len(list(returns(path))) <= 5, path
    assert not [m for m in path if m.startswith("containerize.resolve")], path
    assert not [m for m in path if m.startswith("containerize.engine")], path


def test_returns_counts_each_way_back() -> None:
    assert list(returns(["a", "b", "a", "a", "c", "b"])) == ["a", "b"]
