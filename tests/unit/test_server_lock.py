"""containerize's own lock of the WSGI servers, and when a server's image uses it."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from simple_index_server import SimpleIndexServer, publish, wheel_bytes

from containerize import config, servers
from containerize.config import StaticFiles
from containerize.errors import LockError, ResolutionError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform
from containerize.project import load as project_load
from containerize.resolve import ownlocks, wheelhouse
from containerize.resolve.cache import Cache
from containerize.resolve.lock import Lock, load_lock
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.pipconfig import IndexSettings, IndexSource
from containerize.resolve.selection import PlatformSelection
from containerize.targets import LibcName, TargetEnvironment

SHIPPED = Path(wheelhouse.__file__).parents[1] / "servers" / ownlocks.SERVER_LOCK_FILE
ROOTS = ("cheroot", "gunicorn", "mod-wsgi", "pyuwsgi", "whitenoise")
ALL_SERVERS = ("gunicorn", "uwsgi", "mod_wsgi", "cheroot")
PYTHONS = ((3, 11), (3, 12), (3, 13))
PLATFORMS = (LINUX_AMD64, LINUX_ARM64)
STATIC = StaticFiles(url="/static/", dir="static")
AMD64 = TargetEnvironment.from_config(LINUX_AMD64)

PYPROJECT = """\
[project]
name = "demo"
version = "1.0"
requires-python = ">=3.11"
dependencies = [APP_DEPENDENCIES]

[dependency-groups]
servers = [SERVER_DEPENDENCIES]

[tool.containerize]
app = "demo:app"
image = "127.0.0.1:5000/demo"
servers = ["gunicorn", "uwsgi", "mod_wsgi", "cheroot"]
"""

PYLOCK_HEAD = """\
lock-version = "1.0"
created-by = "a test"
requires-python = ">=3.11"
"""


def package(name: str, version: str, *, dependencies: tuple[str, ...] = ()) -> str:
    """A ``[[packages]]`` entry with one pure wheel, named but not located."""
    wheel = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    digest = canonicalize_name(name).encode().hex().ljust(64, "0")[:64]
    edges = ", ".join(f'{{name = "{d}"}}' for d in dependencies)
    return (
        f'\n[[packages]]\nname = "{name}"\nversion = "{version}"\n'
        f"dependencies = [{edges}]\n"
        f'wheels = [{{name = "{wheel}", hashes = {{sha256 = "{digest}"}}}}]\n'
    )


def make_project(
    tmp_path: Path,
    *,
    app: tuple[str, ...] = ("app-lib",),
    pinned_servers: tuple[str, ...] = (),
    packages: str = "",
) -> Path:
    """A project whose ``pylock.toml`` holds *packages* (app-lib always)."""
    quoted = ", ".join(f'"{name}"' for name in app)
    text = PYPROJECT.replace("APP_DEPENDENCIES", quoted).replace(
        "SERVER_DEPENDENCIES", ", ".join(f'"{name}"' for name in pinned_servers)
    )
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / "pylock.toml").write_text(PYLOCK_HEAD + package("app-lib", "1.0") + packages)
    return tmp_path


def load(
    directory: Path, *, servers_: tuple[str, ...] = ALL_SERVERS, static: bool = False
) -> tuple[config.Config, Lock]:
    cfg = config.load(directory, environ={})
    cfg = dataclasses.replace(cfg, servers=servers_, static=STATIC if static else None)
    return cfg, load_lock(directory)


def select(cfg: config.Config, lock: Lock, target: TargetEnvironment = AMD64) -> PlatformSelection:
    return wheelhouse.select_all(pipeline.wanted(cfg), lock, project_load(cfg.project_dir), target)


def names(selection: PlatformSelection, server: str) -> list[str]:
    return [str(p.name) for p in selection.servers[server].packages]


def tool_version(name: str) -> str:
    (locked,) = ownlocks.server_lock().find(canonicalize_name(name))
    return str(locked.version)


# -- The shipped lock ---------------------------------------------------------------------


def test_the_shipped_lock_names_its_files_and_locates_none() -> None:
    text = SHIPPED.read_text()
    assert "://" not in text

    def keys(value: object) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    data = tomllib.loads(text)
    found = set(keys(data))
    assert not found & {"url", "path", "index"}
    for entry in data["packages"]:
        for file in [*entry.get("wheels", []), *([entry["sdist"]] if "sdist" in entry else [])]:
            assert file["name"]
            assert len(file["hashes"]["sha256"]) == 64
    assert text.startswith("# containerize's own lock")
    assert "python3 scripts/lock-servers.py" in text.split("\n\n", 1)[0]


def test_the_shipped_lock_is_read_by_the_pylock_reader_once() -> None:
    lock = ownlocks.server_lock()
    assert lock is ownlocks.server_lock()
    assert lock.path.name == "servers.pylock.toml"
    assert lock.format == "pylock"
    assert lock.has_graph  # one server's closure, not the whole lock
    assert set(ROOTS) <= lock.names
    assert all(file.url is None for p in lock.packages for file in p.files)
    assert lock.requires_python is not None
    assert all(lock.requires_python.contains(f"{m}.{n}.0") for m, n in PYTHONS)
    assert not lock.requires_python.contains("3.14.0")
    assert read_pylock(SHIPPED).packages == lock.packages


@pytest.mark.parametrize("python", PYTHONS, ids=lambda v: f"py{v[0]}{v[1]}")
@pytest.mark.parametrize("platform", PLATFORMS, ids=str)
@pytest.mark.parametrize("libc", [("glibc", (2, 36)), ("musl", (1, 2))], ids=lambda v: v[0])
def test_every_server_comes_from_the_shipped_lock_on_every_target(
    tmp_path: Path,
    python: tuple[int, int],
    platform: Platform,
    libc: tuple[LibcName, tuple[int, int]],
) -> None:
    cfg, lock = load(make_project(tmp_path), static=True)
    target = TargetEnvironment.from_config(platform, python, libc)
    found = select(cfg, lock, target)
    assert names(found, "gunicorn") == ["gunicorn", "whitenoise"]
    assert names(found, "uwsgi") == ["pyuwsgi"]
    assert names(found, "mod_wsgi") == ["mod-wsgi"]
    assert names(found, "cheroot") == [
        "cheroot",
        "jaraco-functools",
        "more-itertools",
        "whitenoise",
    ]
    assert [str(p.name) for p in found.sdists] == ["mod-wsgi"]  # sdist-only, as everywhere
    (pyuwsgi,) = found.servers["uwsgi"].packages
    tag = f"cp{python[0]}{python[1]}-cp{python[0]}{python[1]}-"
    assert tag in pyuwsgi.file.filename
    assert pyuwsgi.file.filename.endswith(f"{platform.machine}.whl")
    assert ("musllinux" in pyuwsgi.file.filename) == (libc[0] == "musl")
    assert set(found.from_server_lock) == set(ALL_SERVERS)
    assert found.from_server_lock["cheroot"].roots == ("cheroot", "whitenoise")


def test_the_projects_pin_wins(tmp_path: Path) -> None:
    pins = package("gunicorn", "23.0.0", dependencies=("packaging",)) + package("packaging", "24.2")
    assert tool_version("gunicorn") != "23.0.0"
    cfg, lock = load(make_project(tmp_path, pinned_servers=("gunicorn",), packages=pins))
    found = select(cfg, lock)
    assert [(str(p.name), str(p.version)) for p in found.servers["gunicorn"].packages] == [
        ("gunicorn", "23.0.0"),
        ("packaging", "24.2"),
    ]
    assert "gunicorn" not in found.from_server_lock
    # The others still come from containerize's lock.
    assert names(found, "uwsgi") == ["pyuwsgi"]
    assert found.servers["uwsgi"].packages[0].package in ownlocks.server_lock().packages


def test_a_project_lock_without_the_server_uses_the_shipped_lock(tmp_path: Path) -> None:
    cfg, lock = load(make_project(tmp_path), servers_=("uwsgi",))
    amd64 = select(cfg, lock)
    arm64 = select(cfg, lock, TargetEnvironment.from_config(LINUX_ARM64))
    assert names(amd64, "uwsgi") == ["pyuwsgi"]
    assert amd64.servers["uwsgi"].packages[0].file.url is None
    assert amd64.from_server_lock["uwsgi"].roots == ("pyuwsgi",)
    version = tool_version("pyuwsgi")
    assert wheelhouse.server_lock_notices([amd64, arm64]) == [
        f"uwsgi: pyuwsgi {version} from containerize's server lock "
        "(the project's lock does not pin it)"
    ]
    assert wheelhouse.server_lock_notices([]) == []


def test_a_notice_names_the_dependencies_too(tmp_path: Path) -> None:
    cfg, lock = load(make_project(tmp_path), servers_=("cheroot",))
    (line,) = wheelhouse.server_lock_notices([select(cfg, lock)])
    assert line == (
        f"cheroot: cheroot {tool_version('cheroot')} from containerize's server lock (the "
        f"project's lock does not pin it), with jaraco-functools "
        f"{tool_version('jaraco-functools')}, more-itertools {tool_version('more-itertools')}"
    )


@pytest.mark.parametrize("server", ALL_SERVERS)
def test_whitenoise_only_where_static_files_need_it(tmp_path: Path, server: str) -> None:
    wanted = server in ("gunicorn", "cheroot")
    assert (servers.WHITENOISE in servers.roots(server, static_files=True)) == wanted
    directory = make_project(tmp_path)
    without = select(*load(directory, servers_=(server,)))
    with_static = select(*load(directory, servers_=(server,), static=True))
    assert "whitenoise" not in names(without, server)
    assert ("whitenoise" in names(with_static, server)) == wanted


def test_what_the_app_already_has_is_not_taken_again(tmp_path: Path) -> None:
    directory = make_project(
        tmp_path, app=("app-lib", "whitenoise"), packages=package("whitenoise", "5.3.0")
    )
    found = select(*load(directory, servers_=("gunicorn",), static=True))
    assert [str(p.name) for p in found.base.packages] == ["app-lib", "whitenoise"]
    assert names(found, "gunicorn") == ["gunicorn"]  # the app's whitenoise 5.3.0 serves
    assert found.from_server_lock["gunicorn"].roots == ("gunicorn",)


def test_a_python_the_shipped_lock_was_not_made_for(tmp_path: Path) -> None:
    pins = package("gunicorn", "23.0.0")
    cfg, lock = load(make_project(tmp_path, pinned_servers=("gunicorn",), packages=pins))
    py314 = TargetEnvironment.from_config(LINUX_ARM64, (3, 14))
    # The project pins gunicorn: containerize's lock is not needed.
    gunicorn_only = dataclasses.replace(cfg, servers=("gunicorn",))
    assert names(select(gunicorn_only, lock, py314), "gunicorn") == ["gunicorn"]
    with pytest.raises(LockError) as info:
        select(cfg, lock, py314)
    message = str(info.value)
    assert "server 'uwsgi' needs pyuwsgi, which pylock.toml does not pin" in message
    assert "Python 3.14.0 of linux/arm64" in message
    assert "made for Python <3.14,>=3.11" in message
    assert info.value.hint is not None
    assert info.value.hint.startswith("add pyuwsgi to the project")


def test_a_distribution_neither_lock_has(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = ownlocks.server_lock()
    reduced = dataclasses.replace(
        shipped, packages=tuple(p for p in shipped.packages if p.name != "pyuwsgi")
    )
    monkeypatch.setattr(ownlocks, "server_lock", lambda: reduced)
    cfg, lock = load(make_project(tmp_path), servers_=("uwsgi",))
    with pytest.raises(LockError, match=r"neither pylock\.toml nor containerize's server lock"):
        select(cfg, lock)


def test_no_file_for_the_target_in_the_server_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_file = tmp_path / "servers.pylock.toml"
    wheel = "pyuwsgi-9.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    lock_file.write_text(
        PYLOCK_HEAD
        + '\n[[packages]]\nname = "pyuwsgi"\nversion = "9.0"\ndependencies = []\n'
        + f'wheels = [{{name = "{wheel}", hashes = {{sha256 = "{"c" * 64}"}}}}]\n'
    )
    monkeypatch.setattr(ownlocks, "server_lock", lambda: read_pylock(lock_file))
    project = tmp_path / "project"
    project.mkdir()
    cfg, lock = load(make_project(project), servers_=("uwsgi",))
    assert names(select(cfg, lock), "uwsgi") == ["pyuwsgi"]
    with pytest.raises(ResolutionError) as info:
        select(cfg, lock, TargetEnvironment.from_config(LINUX_ARM64))
    assert str(info.value).startswith(
        "server 'uwsgi', from containerize's server lock: no installable file for linux/arm64"
    )
    assert info.value.hint is not None
    assert info.value.hint.endswith(
        "or add pyuwsgi to the project (for example in a 'servers' "
        "dependency group) and re-lock with 'pip lock -o pylock.toml . (or uv export --format "
        "pylock.toml -o pylock.toml)'"
    )


# -- Fetched like the project's files ---------------------------------------------------


@pytest.fixture
def server() -> Iterator[SimpleIndexServer]:
    with SimpleIndexServer() as running:
        yield running


def test_files_from_the_server_lock_are_fetched_and_pinned_like_the_projects(
    tmp_path: Path, server: SimpleIndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_hash = publish(
        server, "app-lib", {"app_lib-1.0-py3-none-any.whl": wheel_bytes("app_lib", "1.0")}
    )
    uwsgi_files = {"pyuwsgi-9.0-py3-none-any.whl": wheel_bytes("pyuwsgi", "9.0")}
    uwsgi_hash = publish(server, "pyuwsgi", uwsgi_files)
    (tool,) = uwsgi_hash.values()
    lock_file = tmp_path / "servers.pylock.toml"
    lock_file.write_text(
        PYLOCK_HEAD
        + '\n[[packages]]\nname = "pyuwsgi"\nversion = "9.0"\ndependencies = []\n'
        + f'wheels = [{{name = "pyuwsgi-9.0-py3-none-any.whl", hashes = {{sha256 = "{tool}"}}}}]\n'
    )
    monkeypatch.setattr(ownlocks, "server_lock", lambda: read_pylock(lock_file))

    project = tmp_path / "project"
    project.mkdir()
    make_project(project)
    (app,) = app_hash.values()
    lock_text = (project / "pylock.toml").read_text()
    digest = canonicalize_name("app-lib").encode().hex().ljust(64, "0")[:64]
    (project / "pylock.toml").write_text(lock_text.replace(digest, app))
    cfg, lock = load(project, servers_=("uwsgi",))
    cfg = dataclasses.replace(cfg, build_dir=tmp_path / "build")
    selections = [
        select(cfg, lock, TargetEnvironment.from_config(platform)) for platform in PLATFORMS
    ]
    settings = IndexSettings(
        indexes=(IndexSource(name="test", url=f"{server.url}/simple/", origin="the test"),)
    )
    house = wheelhouse.build(
        selections,
        dest=cfg.build_dir / "wheelhouse",
        project_dir=cfg.project_dir,
        settings=settings,
        cache=Cache(root=tmp_path / "c"),
    )

    for item in house.platforms:
        assert sorted(p.name for p in item.folder.iterdir()) == [
            "app_lib-1.0-py3-none-any.whl",
            "build-env.json",
            "compile.json",
            "install-base.json",
            "install-uwsgi.json",
            "pyuwsgi-9.0-py3-none-any.whl",
        ]
        manifest = json.loads((item.folder / "install-uwsgi.json").read_text())
        assert [(e["file"], e["sha256"]) for e in manifest["wheels"]] == [
            ("pyuwsgi-9.0-py3-none-any.whl", tool)
        ]
    # Found by name on the configured index: the lock has no URL for it.
    looked_up = sorted(seen.path for seen in server.requests_to("/simple/"))
    assert looked_up == ["/simple/app-lib/", "/simple/pyuwsgi/"]
