from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from containerize.errors import LockError, ResolutionError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform
from containerize.project import load as project_load
from containerize.resolve.lock import load_lock
from containerize.resolve.selection import closure, sdist_message, select
from containerize.targets import TargetEnvironment

sys.path.insert(0, str(Path(__file__).parent / "lock"))
from lock_testdata import HELLO, LOCKS, copy_project, replace_in

ARM64 = TargetEnvironment.from_config(LINUX_ARM64)
AMD64 = TargetEnvironment.from_config(LINUX_AMD64)
S390X = TargetEnvironment.from_config(Platform.parse("linux/s390x"))
FLASK_APP = {
    "blinker", "click", "flask", "greenlet", "itsdangerous", "jinja2", "markupsafe",
    "sqlalchemy", "tomli", "typing-extensions", "werkzeug",
}  # fmt: skip
GRAPH_LOCKS = ["poetry1", "poetry2", "uv"]


def _names(packages: object) -> set[str]:
    return {str(p.name) for p in packages}  # type: ignore[attr-defined]


def test_hello_wsgi_on_arm64() -> None:
    lock, project = load_lock(HELLO), project_load(HELLO)
    selection = select(lock, project, ARM64, groups=("servers",))
    files = {str(p.name): p.file.filename for p in selection.packages}
    assert files["gunicorn"].endswith("-py3-none-any.whl")
    assert "manylinux" in files["pyuwsgi"]
    assert files["pyuwsgi"].endswith("_aarch64.whl")
    assert "-cp311-cp311-" in files["pyuwsgi"]
    assert files["mod-wsgi"].endswith(".tar.gz")
    assert [str(p.name) for p in selection.sdist_fallbacks] == ["mod-wsgi"]
    assert sdist_message(selection) == (
        "no linux/arm64 wheel for: mod-wsgi; they will be compiled for the target under emulation"
    )


def test_hello_wsgi_runtime_is_empty_and_servers_come_as_extra_roots() -> None:
    lock, project = load_lock(HELLO), project_load(HELLO)
    assert select(lock, project, AMD64).packages == ()
    gunicorn = closure(lock, project, AMD64, groups=(), extra_roots=[Requirement("gunicorn")])
    assert _names(gunicorn) == {"gunicorn"}
    assert sdist_message(select(lock, project, AMD64, groups=())) is None


@pytest.mark.parametrize("project_name", GRAPH_LOCKS)
def test_graph_walk_per_platform_and_python(project_name: str) -> None:
    directory = LOCKS / project_name
    lock, project = load_lock(directory), project_load(directory)
    for target in (AMD64, ARM64):
        assert _names(closure(lock, project, target)) == FLASK_APP
    # tomli is only for Python < 3.12; colorama only on Windows.
    py312 = TargetEnvironment.from_config(LINUX_ARM64, (3, 12))
    assert _names(closure(lock, project, py312)) == FLASK_APP - {"tomli"}
    # greenlet's marker lists x86_64 and aarch64 but not s390x.
    assert _names(closure(lock, project, S390X)) == FLASK_APP - {"greenlet"}


@pytest.mark.parametrize("project_name", GRAPH_LOCKS)
def test_wheels_follow_the_platform(project_name: str) -> None:
    directory = LOCKS / project_name
    lock, project = load_lock(directory), project_load(directory)
    chosen = {
        target.platform.arch: {
            str(p.name): p.file.filename for p in select(lock, project, target).packages
        }
        for target in (AMD64, ARM64)
    }
    assert chosen["amd64"]["greenlet"].endswith("manylinux_2_28_x86_64.whl")
    assert chosen["arm64"]["greenlet"].endswith("manylinux_2_28_aarch64.whl")
    assert "cp311" in chosen["arm64"]["markupsafe"]
    s390x = select(lock, project, S390X)
    assert [str(p.name) for p in s390x.sdist_fallbacks] == ["markupsafe"]


@pytest.mark.parametrize("project_name", GRAPH_LOCKS)
def test_groups_and_extras(project_name: str) -> None:
    directory = LOCKS / project_name
    lock, project = load_lock(directory), project_load(directory)
    with_yaml = closure(lock, project, AMD64, extras=("yaml",))
    assert _names(with_yaml) == FLASK_APP | {"pyyaml"}
    dev = closure(lock, project, AMD64, groups=("dev",))
    # colorama is pytest's dependency only on Windows.
    assert _names(dev) == {"pytest", "iniconfig", "packaging", "pluggy", "pygments"}


def test_extra_of_a_dependency_is_followed() -> None:
    lock, project = load_lock(LOCKS / "poetry2"), project_load(LOCKS / "poetry2")
    roots = [Requirement("sqlalchemy[asyncio]")]
    found = closure(lock, project, S390X, groups=(), extra_roots=roots)
    # On s390x greenlet comes only through the asyncio extra.
    assert _names(found) == {"sqlalchemy", "typing-extensions", "greenlet"}


def test_pylock_without_graph_uses_package_markers() -> None:
    lock, project = load_lock(LOCKS / "pylock"), project_load(LOCKS / "pylock")
    names = _names(closure(lock, project, AMD64))
    assert names >= FLASK_APP
    assert "colorama" not in names
    assert "tomli" not in _names(
        closure(lock, project, TargetEnvironment.from_config(LINUX_AMD64, (3, 12)))
    )
    assert "greenlet" not in _names(closure(lock, project, S390X))
    # Roots of groups that were not chosen stay out; a server's closure has no app.
    assert not names & {"pytest", "gunicorn", "pyuwsgi", "mod-wsgi", "pyyaml"}
    server = closure(lock, project, AMD64, groups=(), extra_roots=[Requirement("gunicorn")])
    assert "gunicorn" in _names(server)
    assert not _names(server) & {"flask", "pytest", "pyuwsgi", "mod-wsgi"}


PYLOCK_WITH_GRAPH = """\
lock-version = "1.0"
requires-python = ">=3.11"
dependency-groups = ["dev"]
default-groups = []

[[packages]]
name = "app-lib"
version = "1.0"
dependencies = [{name = "x86-only"}, {name = "helper"}]
wheels = [{url = "https://files.invalid/app_lib-1.0-py3-none-any.whl", hashes = {sha256 = "{a}"}}]

[[packages]]
name = "x86-only"
version = "2.0"
marker = "platform_machine == 'x86_64'"
[[packages.wheels]]
url = "https://files.invalid/x86_only-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"
hashes = {sha256 = "{a}"}

[[packages]]
name = "helper"
version = "3.0"
wheels = [{url = "https://files.invalid/helper-3.0-py3-none-any.whl", hashes = {sha256 = "{a}"}}]

[[packages]]
name = "devtool"
version = "1.0"
marker = "'dev' in dependency_groups"
dependencies = [{name = "helper"}]
sdist = {url = "https://files.invalid/devtool-1.0.tar.gz", hashes = {sha256 = "{a}"}}
""".replace("{a}", "a" * 64)


def _small_project(tmp_path: Path, lock_text: str, lock_name: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1"\ndependencies = ["app-lib"]\n'
        '[dependency-groups]\ndev = ["devtool"]\n'
    )
    (tmp_path / lock_name).write_text(lock_text)
    return tmp_path


def test_pylock_with_graph_walks_and_honours_group_markers(tmp_path: Path) -> None:
    directory = _small_project(tmp_path, PYLOCK_WITH_GRAPH, "pylock.toml")
    lock, project = load_lock(directory), project_load(directory)
    assert lock.has_graph
    assert _names(closure(lock, project, AMD64)) == {"app-lib", "x86-only", "helper"}
    assert _names(closure(lock, project, ARM64)) == {"app-lib", "helper"}
    dev = select(lock, project, ARM64, groups=("dev",))
    assert _names(dev.packages) == {"devtool", "helper"}
    assert [str(p.name) for p in dev.sdist_fallbacks] == ["devtool"]


def test_no_wheel_and_no_sdist_is_a_resolution_error(tmp_path: Path) -> None:
    text = PYLOCK_WITH_GRAPH.replace("marker = \"platform_machine == 'x86_64'\"\n", "")
    directory = _small_project(tmp_path, text, "pylock.toml")
    lock, project = load_lock(directory), project_load(directory)
    with pytest.raises(ResolutionError) as info:
        select(lock, project, ARM64)
    message = str(info.value)
    assert "no installable file for linux/arm64: x86-only 2.0" in message
    assert "cp311-cp311-manylinux_2_36_aarch64" in message
    assert "x86_only-2.0-cp311-cp311-manylinux_2_17_x86_64.whl" in message
    # amd64 is fine.
    assert "x86-only" in _names(select(lock, project, AMD64).packages)


def test_root_missing_from_the_lock(tmp_path: Path) -> None:
    directory = copy_project(LOCKS / "uv", tmp_path)
    replace_in(directory / "pyproject.toml", '"flask>=3.0",', '"flask>=3.0",\n    "requests",')
    lock, project = load_lock(directory), project_load(directory)
    with pytest.raises(LockError, match=r"requests is required by pyproject.toml \(main\)") as info:
        closure(lock, project, AMD64)
    assert info.value.hint is not None
    assert "uv lock" in info.value.hint
    with pytest.raises(LockError, match="waitress is needed in the image but is not in the lock"):
        closure(lock, project, AMD64, groups=(), extra_roots=[Requirement("waitress")])


def test_python_outside_the_lock_is_refused() -> None:
    lock, project = load_lock(LOCKS / "uv"), project_load(LOCKS / "uv")
    py310 = TargetEnvironment.from_config(LINUX_AMD64, (3, 10))
    with pytest.raises(ResolutionError, match="locked for Python >=3\\.11"):
        select(lock, project, py310)


def test_selection_is_sorted_and_deterministic() -> None:
    lock, project = load_lock(LOCKS / "poetry2"), project_load(LOCKS / "poetry2")
    first = select(lock, project, ARM64, groups=("main", "dev"))
    second = select(lock, project, ARM64, groups=("dev", "main"))
    assert first == second
    names = [p.name for p in first.packages]
    assert names == sorted(names)
    runtime = first.without({canonicalize_name("pytest")})
    assert "pytest" not in runtime.names
