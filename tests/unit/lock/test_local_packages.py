"""Local packages: workspace members, path dependencies and the project itself, read
from real locks, seen from a member's folder, packed reproducibly, and selected like
any sdist."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from lock_testdata import LOCKS, ROOT
from packaging.utils import canonicalize_name

from containerize.buildsteps.wheels import pkg_info_version
from containerize.errors import LockError, ResolutionError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.project import load as project_load
from containerize.resolve import localpkgs
from containerize.resolve.cache import Cache
from containerize.resolve.lock import check_fresh, for_project, load_lock, read_lock
from containerize.resolve.selection import select
from containerize.targets import TargetEnvironment

MONOREPO = ROOT / "fixtures" / "monorepo"
SELF = LOCKS / "uv-self"
TARGETS = [TargetEnvironment.from_config(LINUX_AMD64), TargetEnvironment.from_config(LINUX_ARM64)]


def test_workspace_members_are_local_packages() -> None:
    lock = read_lock(MONOREPO / "uv.lock")
    (shared,) = lock.find(canonicalize_name("shared"))
    assert (shared.local, shared.installable, shared.files) == ("libs/shared", True, ())
    (web,) = lock.find(canonicalize_name("web"))
    assert (web.local, web.installable) == ("services/web", False)
    assert {p.name for p in lock.local_packages} == {"api", "shared", "web"}
    # A workspace root with no project of its own records no roots.
    assert lock.roots == ()
    assert lock.project_package is None


@pytest.mark.parametrize(("service", "framework"), [("web", "flask"), ("api", "django")])
def test_a_member_sees_the_workspace_lock_as_its_own(service: str, framework: str) -> None:
    folder = MONOREPO / "services" / service
    project = project_load(folder)
    lock = for_project(load_lock(folder, Path("../../uv.lock")), folder)
    assert lock.root_names("main") == {framework, "shared"}
    assert not lock.find(canonicalize_name(service))  # virtual: never installed
    check_fresh(lock, project)


def test_a_member_whose_dependencies_changed_has_a_stale_lock(tmp_path: Path) -> None:
    copy = tmp_path / "monorepo"
    shutil.copytree(MONOREPO, copy)
    pyproject = copy / "services" / "web" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"shared"]', '"shared", "requests"]'))
    folder = copy / "services" / "web"
    lock = for_project(load_lock(folder, Path("../../uv.lock")), folder)
    with pytest.raises(LockError, match=r"requests \(main\) is not in the lock"):
        check_fresh(lock, project_load(folder))


def test_a_local_package_is_selected_once_packed(tmp_path: Path) -> None:
    folder = MONOREPO / "services" / "web"
    project = project_load(folder)
    lock = for_project(load_lock(folder, Path("../../uv.lock")), folder)
    with pytest.raises(ResolutionError, match=r"shared 1\.4\.0"):
        select(lock, project, TARGETS[0])
    packed = localpkgs.pack(lock, Cache(root=tmp_path / "cache"))
    for target in TARGETS:
        selection = select(packed, project, target)
        chosen = {p.name: p for p in selection.packages}
        assert "web" not in chosen
        assert chosen[canonicalize_name("shared")].file.filename == "shared-1.4.0.tar.gz"
        assert [p.name for p in selection.sdist_fallbacks] == ["shared"]
    (shared,) = packed.find(canonicalize_name("shared"))
    sdist = shared.sdist
    assert sdist is not None
    entry = Cache(root=tmp_path / "cache").lookup(sdist.sha256, sdist.filename)
    assert entry is not None


def test_the_project_itself_is_installed_when_the_lock_installs_it(tmp_path: Path) -> None:
    lock = load_lock(SELF)
    assert lock.project_package == "selfpkg"
    assert lock.root_names("main") == frozenset()
    check_fresh(lock, project_load(SELF))
    packed = localpkgs.pack(lock, Cache(root=tmp_path))
    selection = select(packed, project_load(SELF), TARGETS[1])
    assert [(p.name, p.file.filename) for p in selection.packages] == [
        ("selfpkg", "selfpkg-2.0.0.tar.gz")
    ]
    # Not when only the runtime dependencies of other groups are asked for.
    assert select(packed, project_load(SELF), TARGETS[1], groups=()).packages == ()


def test_the_archive_is_reproducible_and_leaves_out_what_is_not_source(tmp_path: Path) -> None:
    source = tmp_path / "shared"
    shutil.copytree(MONOREPO / "libs" / "shared", source)
    first = localpkgs.archive_bytes(source, "shared", "1.4.0")
    # Dates, caches, version control and build output change nothing.
    os.utime(source / "pyproject.toml", (1, 1))
    (source / "src" / "shared" / "__pycache__").mkdir()
    (source / "src" / "shared" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"x")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / "build").mkdir()
    (source / "build" / "junk").write_text("junk")
    assert localpkgs.archive_bytes(source, "shared", "1.4.0") == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
        pkg_info = tar.extractfile("shared-1.4.0/PKG-INFO")
        assert pkg_info is not None
        assert b"Version: 1.4.0" in pkg_info.read()
        assert {m.mtime for m in tar.getmembers()} == {315532800}
    assert names == [
        "shared-1.4.0/PKG-INFO",
        "shared-1.4.0/pyproject.toml",
        "shared-1.4.0/src/shared/__init__.py",
        "shared-1.4.0/src/shared/cli.py",
    ]
    # A change to a source file is a new archive.
    (source / "src" / "shared" / "cli.py").write_text("print('changed')\n")
    assert localpkgs.archive_bytes(source, "shared", "1.4.0") != first


def test_a_local_folder_without_a_build_file_is_an_error(tmp_path: Path) -> None:
    copy = tmp_path / "monorepo"
    shutil.copytree(MONOREPO, copy)
    (copy / "libs" / "shared" / "pyproject.toml").unlink()
    lock = read_lock(copy / "uv.lock")
    with pytest.raises(LockError, match=r"shared: its folder .* has no pyproject\.toml"):
        localpkgs.pack(lock, Cache(root=tmp_path / "cache"))


def test_the_compile_step_reads_the_version_to_pass_in(tmp_path: Path) -> None:
    assert pkg_info_version(tmp_path) is None
    (tmp_path / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: x\nVersion: 3.0.1\n\nVersion: not this\n"
    )
    assert pkg_info_version(tmp_path) == "3.0.1"


def test_the_workspace_lock_names_no_index_host() -> None:
    hosts = set(re.findall(r"https?://([^/\"]+)/", (MONOREPO / "uv.lock").read_text()))
    assert hosts == {"index.invalid", "files.invalid"}


POETRY_APP = ROOT / "fixtures" / "poetry-pathdep" / "app"


def test_a_poetry_path_dependency_is_a_local_package(tmp_path: Path) -> None:
    lock = load_lock(POETRY_APP)
    (greeting,) = lock.find(canonicalize_name("greeting"))
    assert (greeting.local, greeting.installable, greeting.source_url) == (
        "../greeting",
        True,
        None,
    )
    check_fresh(lock, project_load(POETRY_APP))
    packed = localpkgs.pack(lock, Cache(root=tmp_path))
    for target in TARGETS:
        selection = select(packed, project_load(POETRY_APP), target)
        assert [(p.name, p.file.filename) for p in selection.packages] == [
            ("greeting", "greeting-0.3.0.tar.gz")
        ]


def test_a_project_whose_version_comes_from_git_gets_the_tagged_one(tmp_path: Path) -> None:
    project = tmp_path / "scm-src"
    shutil.copytree(ROOT / "fixtures" / "scm-src", project)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run([*git, *args], cwd=project, check=True, capture_output=True)
    subprocess.run([*git, "tag", "v3.1.0"], cwd=project, check=True)
    lock = load_lock(project)
    assert lock.project_package == "scm-app"
    (own,) = lock.find(canonicalize_name("scm-app"))
    assert (str(own.version), own.local) == ("3.1.0", ".")
    check_fresh(lock, project_load(project))
    packed = localpkgs.pack(lock, Cache(root=tmp_path / "cache"))
    selection = select(packed, project_load(project), TARGETS[0])
    chosen = {str(p.name): p.file.filename for p in selection.packages}
    assert chosen["scm-app"] == "scm_app-3.1.0.tar.gz"
    assert "flask" in chosen
