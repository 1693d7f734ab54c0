"""``containerize lock`` against a local test index: uv resolves for real, once.

The index (:mod:`simple_index_server`, on 127.0.0.1) serves small real wheels whose
metadata has markers: a dependency only on x86_64, one only on Windows, and a library
whose version depends on the Python. uv is the one of the test extra (the version of
containerize's tools lock), its cache in a temporary folder.
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from simple_index_server import SimpleIndexServer, html_page, publish, sha256_of

from containerize import cli
from containerize.errors import ConfigError, LockError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.project import ProjectMetadata
from containerize.project import load as project_load
from containerize.resolve import locking
from containerize.resolve.cache import Cache
from containerize.resolve.lock import check_fresh, check_inputs, load_lock
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.locking.changes import Changes
from containerize.resolve.locking.inputs import find_inputs, previous_lock
from containerize.resolve.locking.python import choose_python, offered_pythons
from containerize.resolve.locking.request import LockInputs, LockRequest
from containerize.resolve.locking.uv import UV, ensure_uv, uv_argv, uv_environment, uv_version
from containerize.resolve.ownlocks import tool_lock
from containerize.resolve.pipconfig import IndexSettings, discover
from containerize.resolve.selection import select
from containerize.targets import TargetEnvironment


def _wheel(
    name: str, version: str, tag: str = "py3-none-any", requires: Sequence[str] = ()
) -> bytes:
    buffer = io.BytesIO()
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}/__init__.py", f"VERSION = {version!r}\n")
        archive.writestr(f"{dist_info}/METADATA", metadata)
        archive.writestr(
            f"{dist_info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
        )
        archive.writestr(f"{dist_info}/RECORD", "")
    return buffer.getvalue()


def _publish(server: SimpleIndexServer, name: str, versions: dict[str, Sequence[str]]) -> None:
    """Publish pure wheels of *name*, one per version, each with its requirements."""
    publish(
        server,
        name,
        {f"{name}-{v}-py3-none-any.whl": _wheel(name, v, requires=r) for v, r in versions.items()},
    )


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SimpleIndexServer]:
    """A local index with: webcore (needs speedups on x86_64 only, winshim on Windows
    only, and oldlib 1 before Python 3.12, oldlib 2 from 3.12), and those packages."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    with SimpleIndexServer() as server:
        _publish(
            server,
            "webcore",
            {
                "1.0": [
                    'speedups>=1; platform_machine == "x86_64"',
                    'winshim; sys_platform == "win32"',
                    'oldlib<2; python_version < "3.12"',
                    'oldlib>=2; python_version >= "3.12"',
                ]
            },
        )
        publish(
            server,
            "speedups",
            {
                name: _wheel("speedups", "1.0", tag=name.split("-", 2)[2].removesuffix(".whl"))
                for name in (
                    "speedups-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                    "speedups-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
                    "speedups-1.0-cp313-cp313-manylinux_2_17_x86_64.whl",
                )
            },
        )
        _publish(server, "winshim", {"0.5": []})
        _publish(server, "oldlib", {"1.4": [], "2.1": []})
        _publish(server, "tinylog", {"1.0": []})
        _publish(server, "demoextras", {"1.0": ['tinylog; extra == "log"']})
        yield server


@pytest.fixture
def uv() -> Path:
    """uv from the test extra: the version containerize's tools lock pins."""
    from uv import find_uv_bin  # noqa: PLC0415 (the test extra's package)

    binary = Path(find_uv_bin())
    (locked,) = tool_lock().find(UV)
    assert uv_version(binary) == str(locked.version)
    return binary


def _settings(server: SimpleIndexServer, project: Path) -> IndexSettings:
    return discover(project, environ={"PIP_INDEX_URL": f"{server.url}/simple/"}, config_files=[])


def _lock(
    project: Path,
    server: SimpleIndexServer,
    uv: Path,
    given: Sequence[str] = (),
    *,
    upgrade: Sequence[str] = (),
    python: tuple[int, int] | None = (3, 11),
) -> locking.LockResult:
    metadata = project_load(project) if (project / "pyproject.toml").is_file() else None
    previous = previous_lock(project)
    inputs = find_inputs(project, [Path(g) for g in given], project=metadata, previous=previous)
    request = LockRequest(
        project_dir=project,
        inputs=inputs,
        python=python,
        requires_python=metadata.requires_python if metadata else None,
        upgrade=tuple(canonicalize_name(n) for n in upgrade),
    )
    return locking.lock(
        request, uv=uv, settings=_settings(server, project), project=metadata, previous=previous
    )


def _no_project(project: Path) -> ProjectMetadata:
    """A folder without pyproject.toml: no requirements of its own to add."""
    return ProjectMetadata(
        path=project / "pyproject.toml", name=None, version=None, requires_python=None,
        dependencies=(),
    )  # fmt: skip


def _pins(lock_path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in read_pylock(lock_path).packages:
        found.setdefault(package.name, []).append(str(package.version))
    return found


def test_one_universal_lock_keeps_markers_for_every_platform_and_python(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    (tmp_path / "requirements.txt").write_text("webcore\n")
    result = _lock(tmp_path, index, uv)
    lock = load_lock(tmp_path)  # found by name, read by containerize's pylock reader
    assert lock.path == tmp_path / "pylock.toml" == result.lock.path
    assert lock.format == "pylock"
    assert _pins(lock.path) == {
        "oldlib": ["1.4", "2.1"],
        "speedups": ["1.0"],
        "webcore": ["1.0"],
        "winshim": ["0.5"],
    }
    markers = {f"{p.name} {p.version}": str(p.marker) for p in lock.packages}
    assert "x86_64" in markers["speedups 1.0"]
    assert "win32" in markers["winshim 0.5"]
    assert "3.12" in markers["oldlib 1.4"]
    assert "<" in markers["oldlib 1.4"]
    assert "3.12" in markers["oldlib 2.1"]
    assert ">=" in markers["oldlib 2.1"]
    assert str(lock.requires_python) == ">=3.11"
    # Every file is hashed and located on the local index only.
    for package in lock.packages:
        assert package.files
        for file in package.files:
            assert file.url is not None
            assert file.url.startswith(index.url)
    metadata = _no_project(tmp_path)
    amd64 = select(lock, metadata, TargetEnvironment.from_config(LINUX_AMD64))
    arm64 = select(lock, metadata, TargetEnvironment.from_config(LINUX_ARM64))
    py313 = select(lock, metadata, TargetEnvironment.from_config(LINUX_AMD64, (3, 13)))
    assert {str(p.name): str(p.version) for p in amd64.packages} == {
        "oldlib": "1.4",
        "speedups": "1.0",
        "webcore": "1.0",
    }
    assert {str(p.name): str(p.version) for p in arm64.packages} == {
        "oldlib": "1.4",
        "webcore": "1.0",
    }
    assert {str(p.name): str(p.version) for p in py313.packages}["oldlib"] == "2.1"
    lines = result.lines()
    assert lines[0].startswith(
        "containerize lock: 4 packages (5 pins) pinned from requirements.txt"
    )
    assert '  speedups==1.0 ; platform_machine == "x86_64"' in lines
    assert result.changes is None


def test_a_changed_input_stops_the_build_without_resolving(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "base.txt").write_text("tinylog\n")
    (tmp_path / "requirements.txt").write_text("-r requirements/base.txt\nwebcore\n")
    _lock(tmp_path, index, uv)
    lock = load_lock(tmp_path)
    assert [(i.path, i.included) for i in lock.inputs] == [
        ("requirements.txt", False),
        ("requirements/base.txt", True),
    ]
    assert lock.relock_command == "containerize lock"
    check_inputs(lock)
    requests = len(index.seen)

    (tmp_path / "requirements.txt").write_text("-r requirements/base.txt\nwebcore>=1\n")
    with pytest.raises(LockError) as info:
        check_fresh(load_lock(tmp_path), _no_project(tmp_path))
    assert info.value.message == (
        "requirements.txt changed since the lock was made: run containerize lock"
    )
    (tmp_path / "requirements.txt").write_text("-r requirements/base.txt\nwebcore\n")
    check_inputs(load_lock(tmp_path))
    # An included file counts too, and so does a file that is gone.
    (tmp_path / "requirements" / "base.txt").write_text("tinylog>=1\n")
    with pytest.raises(LockError, match=r"^requirements/base.txt changed since the lock"):
        check_inputs(load_lock(tmp_path))
    (tmp_path / "requirements" / "base.txt").unlink()
    with pytest.raises(LockError, match=r"^requirements/base.txt is gone since the lock"):
        check_inputs(load_lock(tmp_path))
    assert len(index.seen) == requests  # checking never asks the index


def test_a_pyproject_input_ignores_edits_outside_its_dependencies(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["webcore", "demoextras[log]"]\n'
        '\n[dependency-groups]\ntest = ["winshim"]\n'
    )
    result = _lock(tmp_path, index, uv)
    assert result.request.inputs.kind == "pyproject"
    lock = load_lock(tmp_path)
    # The main group only (containerize's default groups): no winshim without Windows
    # asking for it... except through webcore's own Windows marker.
    assert set(_pins(lock.path)) == {
        "demoextras",
        "oldlib",
        "speedups",
        "tinylog",
        "webcore",
        "winshim",
    }
    check_fresh(lock, project_load(tmp_path))
    pyproject.write_text(pyproject.read_text() + '\n[tool.containerize]\napp = "app:app"\n')
    check_fresh(load_lock(tmp_path), project_load(tmp_path))
    pyproject.write_text(pyproject.read_text().replace('"webcore", ', ""))
    with pytest.raises(LockError, match=r"^pyproject.toml changed since the lock was made"):
        check_fresh(load_lock(tmp_path), project_load(tmp_path))


def test_upgrade_package_moves_one_package_and_the_diff_says_so(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    (tmp_path / "requirements.txt").write_text("tinylog\nwinshim\n")
    _lock(tmp_path, index, uv)
    assert _pins(tmp_path / "pylock.toml") == {"tinylog": ["1.0"], "winshim": ["0.5"]}
    _publish(index, "tinylog", {"1.0": [], "1.1": []})
    _publish(index, "winshim", {"0.5": [], "0.6": []})

    again = _lock(tmp_path, index, uv)  # the old pins are preferred: nothing moves
    assert _pins(tmp_path / "pylock.toml") == {"tinylog": ["1.0"], "winshim": ["0.5"]}
    assert again.changes == Changes()
    assert "  no change since the last lock" in again.lines()

    moved = _lock(tmp_path, index, uv, upgrade=["TinyLog"])
    assert _pins(tmp_path / "pylock.toml") == {"tinylog": ["1.1"], "winshim": ["0.5"]}
    assert moved.changes is not None
    assert moved.changes.changed == (("tinylog", Version("1.0"), Version("1.1")),)
    assert "  ~ tinylog 1.0 -> 1.1" in moved.lines()

    with pytest.raises(LockError, match=r"--upgrade-package nothere: not in pylock.toml"):
        _lock(tmp_path, index, uv, upgrade=["nothere"])


def test_the_command_line_locks_and_reports_the_difference(
    tmp_path: Path,
    index: SimpleIndexServer,
    uv: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", f"{index.url}/simple/")
    (tmp_path / "requirements.txt").write_text("tinylog\nwinshim\n")
    argv = ["--project", str(tmp_path), "lock", "--uv", str(uv)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    # Nothing states the Python and no pin bounds it: the oldest a base image offers.
    oldest = "{}.{}".format(*min(offered_pythons()))
    assert f"2 packages pinned from requirements.txt for Python >={oldest}" in out
    assert (
        f"  Python >={oldest}: nothing states the Python; every pin allows {oldest}, the "
        "oldest a base image offers\n"
    ) in out
    assert "  tinylog==1.0\n" in out
    (tmp_path / "requirements.txt").write_text("webcore\nwinshim\n")
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "changes since the last pylock.toml:" in out
    assert "  - tinylog 1.0 (removed)\n" in out
    assert "  + webcore 1.0 (added)\n" in out
    assert "  + oldlib 1.4 (added)\n  + oldlib 2.1 (added)\n" in out


def test_a_pipfile_is_locked_with_its_python_and_its_sources(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}/simple"\nverify_ssl = false\nname = "local"\n\n'
        '[packages]\nwebcore = "*"\nwinshim = {version = "==0.5", markers = "os_name == \'nt\'"}\n'
        '\n[dev-packages]\ntinylog = "*"\n\n[requires]\npython_version = "3.12"\n'
    )
    metadata = None
    previous = previous_lock(tmp_path)
    inputs = find_inputs(tmp_path, [], project=metadata, previous=previous)
    assert inputs.kind == "pipfile"
    python = choose_python(None, inputs, None)
    assert python == (3, 12)
    request = LockRequest(project_dir=tmp_path, inputs=inputs, python=python)
    # pip's own configuration names no index here: the Pipfile's source is the one.
    settings = discover(tmp_path, environ={"PIP_NO_INDEX": "0"}, config_files=[])
    settings = IndexSettings(indexes=(), find_links=settings.find_links)
    result = locking.lock(request, uv=uv, settings=settings, project=None, previous=None)
    assert _pins(result.lock.path) == {
        "oldlib": ["2.1"],
        "speedups": ["1.0"],
        "webcore": ["1.0"],
        "winshim": ["0.5"],
    }
    assert str(result.lock.requires_python) == ">=3.12"
    assert [i.kind for i in result.lock.inputs] == ["pipfile"]
    # A re-lock keeps the Python the lock was made for, unless --python says otherwise.
    previous = previous_lock(tmp_path)
    assert choose_python(None, inputs, (3, 11), previous) == (3, 12)
    assert choose_python("3.13", inputs, (3, 11), previous) == (3, 13)


def test_what_uv_cannot_resolve_is_a_lock_error_and_the_lock_stays(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    (tmp_path / "requirements.txt").write_text("tinylog\n")
    _lock(tmp_path, index, uv)
    before = (tmp_path / "pylock.toml").read_bytes()
    (tmp_path / "requirements.txt").write_text("tinylog>=7\n")
    with pytest.raises(LockError) as info:
        _lock(tmp_path, index, uv)
    assert info.value.message.startswith("requirements.txt cannot be locked: uv (exit code 1)")
    assert "tinylog>=7" in info.value.message
    assert info.value.hint is not None
    assert "pylock.toml is unchanged" in info.value.hint
    assert (tmp_path / "pylock.toml").read_bytes() == before


def _publish_requiring(
    server: SimpleIndexServer, name: str, versions: dict[str, str | None]
) -> None:
    """Pure wheels of *name* whose links carry ``data-requires-python`` (version: the
    constraint, or None for none), as a real index's page states them."""
    links = []
    for version, requires in versions.items():
        filename = f"{name}-{version}-py3-none-any.whl"
        data = _wheel(name, version)
        server.add(f"/files/{filename}", data, content_type="application/octet-stream")
        attrs = {} if requires is None else {"data-requires-python": requires}
        links.append((f"../../files/{filename}#sha256={sha256_of(data)}", attrs))
    server.add(f"/simple/{name}/", html_page(links))


def test_where_nothing_states_the_python_the_pins_requires_python_decide(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    # A pin of a web framework whose release needs Python 3.12, as Django 6 does,
    # beside a library that runs anywhere: a lock for 3.11 cannot be made.
    _publish_requiring(index, "framework", {"5.2": ">=3.10", "6.0": ">=3.12"})
    _publish_requiring(index, "anywhere", {"1.0": None})
    (tmp_path / "requirements.txt").write_text("framework==6.0\nanywhere\n")
    with pytest.raises(LockError) as info:
        _lock(tmp_path, index, uv, python=(3, 11))
    assert "Python" in info.value.message
    result = _lock(tmp_path, index, uv, python=None)
    assert str(result.lock.requires_python) == ">=3.12"
    assert result.request.python == (3, 12)
    lines = result.lines()
    assert "for Python >=3.12" in lines[0]
    assert lines[1] == (
        "  Python >=3.12: nothing states the Python; the lowest the pins allow: "
        "framework 6.0 requires Python >=3.12"
    )
    assert (
        tomllib.loads((tmp_path / "pylock.toml").read_text())["tool"]["containerize"]["python"]
        == "3.12"
    )
    # A re-lock keeps the lock's Python: it is the previous lock's now.
    metadata = None
    inputs = find_inputs(tmp_path, [], project=metadata, previous=result.lock)
    assert choose_python(None, inputs, None, result.lock) == (3, 12)
    # With the older pin, every offered Python fits: the lock is made for the oldest.
    (tmp_path / "pylock.toml").unlink()
    (tmp_path / "requirements.txt").write_text("framework==5.2\nanywhere\n")
    result = _lock(tmp_path, index, uv, python=None)
    oldest = min(offered_pythons())
    assert result.request.python == oldest
    assert str(result.lock.requires_python) == ">={}.{}".format(*oldest)


def test_the_projects_requires_python_bounds_the_locks_python(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    _publish_requiring(index, "framework", {"5.2": ">=3.10", "6.0": ">=3.12"})
    _publish_requiring(index, "anywhere", {"1.0": None})
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "site"\nversion = "1"\nrequires-python = ">=3.12"\n'
        'dependencies = ["framework==5.2", "anywhere"]\n'
    )
    metadata = project_load(tmp_path)
    inputs = find_inputs(tmp_path, [], project=metadata, previous=None)
    assert inputs.kind == "pyproject"
    # Every pin allows 3.11; the project does not: the lock is made for 3.12.
    result = _lock(tmp_path, index, uv, python=None)
    assert result.request.python == (3, 12)
    assert str(result.lock.requires_python) == ">=3.12"
    assert result.lines()[1] == (
        "  Python >=3.12: [project] requires-python = '>=3.12'; every pin allows 3.12, the "
        "oldest base image within it"
    )
    # A Python stated elsewhere outside it is an error naming both ...
    spec = metadata.requires_python
    with pytest.raises(ConfigError) as info:
        choose_python("3.11", inputs, None, None, spec)
    assert info.value.message == (
        "--python says Python 3.11, outside pyproject.toml's [project] requires-python = '>=3.12'"
    )
    with pytest.raises(ConfigError, match=r"python-version .* outside .*'>=3.12'"):
        choose_python(None, inputs, (3, 11), None, spec)
    assert choose_python(None, inputs, (3, 13), None, spec) == (3, 13)
    # ... and a previous lock's, from before the project moved on, is dropped.
    (tmp_path / "pylock.toml").unlink()
    old = _lock(tmp_path, index, uv, python=(3, 11)).lock
    assert choose_python(None, inputs, None, old, spec) is None


def test_requires_python_and_the_pins_that_cannot_agree_is_an_error_naming_both(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    _publish_requiring(index, "framework", {"6.0": ">=3.12"})
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "site"\nversion = "1"\nrequires-python = "<3.12"\n'
        'dependencies = ["framework==6.0"]\n'
    )
    with pytest.raises(LockError) as info:
        _lock(tmp_path, index, uv, python=None)
    message = info.value.message
    assert message.startswith(
        "pyproject.toml: [project] requires-python = '<3.12' and the pins' Requires-Python "
        "cannot agree"
    )
    assert "framework" in message
    assert not (tmp_path / "pylock.toml").exists()


def test_a_pin_with_an_upper_python_bound_is_locked_for_the_oldest_python_it_allows(
    tmp_path: Path, index: SimpleIndexServer, uv: Path
) -> None:
    newest = offered_pythons()[0]
    below = "<{}.{}".format(*newest)
    _publish_requiring(index, "legacy", {"1.0": f">=3.8,{below}"})
    (tmp_path / "requirements.txt").write_text("legacy==1.0\n")
    result = _lock(tmp_path, index, uv, python=None)
    assert result.request.python == min(offered_pythons())
    assert result.lock.find(canonicalize_name("legacy"))


def test_nothing_or_too_much_to_lock_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="nothing to lock") as info:
        find_inputs(tmp_path, [], project=None, previous=None)
    assert info.value.hint is not None
    (tmp_path / "requirements.txt").write_text("flask\n")
    (tmp_path / "Pipfile").write_text('[packages]\nflask = "*"\n')
    with pytest.raises(LockError, match="more than one set of requirements") as info:
        find_inputs(tmp_path, [], project=None, previous=None)
    assert "Pipfile" in info.value.message
    assert "requirements.txt" in info.value.message
    (tmp_path / "requirements.in").write_text("flask\n")
    (tmp_path / "Pipfile").unlink()
    found = find_inputs(tmp_path, [], project=None, previous=None)
    assert found.files == (tmp_path / "requirements.in",)  # pip-tools' input wins
    (tmp_path / "poetry.lock").write_text("")
    with pytest.raises(LockError, match=r"has a lock already \(poetry.lock\)"):
        find_inputs(tmp_path, [], project=None, previous=None)


def test_a_pylock_another_tool_wrote_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text('lock-version = "1.0"\ncreated-by = "pip"\n')
    with pytest.raises(LockError, match="was not written by 'containerize lock'"):
        previous_lock(tmp_path)


def test_index_settings_reach_uv_in_its_environment_in_pips_order(tmp_path: Path) -> None:
    (tmp_path / "links").mkdir()
    settings = discover(
        tmp_path,
        environ={
            "PIP_INDEX_URL": "https://user:secret@primary.invalid/simple/",
            "PIP_EXTRA_INDEX_URL": "https://extra.invalid/simple/",
            "PIP_FIND_LINKS": "links",
            "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
        },
        config_files=[],
    )
    env = uv_environment(settings)
    assert env["UV_DEFAULT_INDEX"] == "https://user:secret@primary.invalid/simple/"
    assert env["UV_INDEX"] == (
        "https://user:secret@primary.invalid/simple/ https://extra.invalid/simple/"
    )
    assert env["UV_FIND_LINKS"] == (tmp_path / "links").as_uri()
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    request = LockRequest(
        project_dir=tmp_path,
        inputs=LockInputs(kind="requirements", files=(tmp_path / "r.txt",)),
        python=(3, 12),
        upgrade=(canonicalize_name("Flask"),),
    )
    argv = uv_argv(Path("/x/uv"), request, sources=["r.txt"], output=Path("/t/out"))
    assert argv == [
        "/x/uv", "pip", "compile", "r.txt", "--universal", "--python-version", "3.12",
        "--format", "pylock.toml", "--generate-hashes", "--no-header", "--no-config",
        "--index-strategy", "unsafe-best-match", "--quiet", "--output-file", "/t/out",
        "--upgrade-package", "flask",
    ]  # fmt: skip
    assert "secret" not in " ".join(argv)


def test_uv_is_fetched_by_hash_into_the_cache_and_unpacked_once(tmp_path: Path) -> None:
    """The real tools lock, with its uv entry's wheel replaced by a small one served
    locally (the real wheel is 17 MB and comes from the user's index)."""
    script = b"#!/bin/sh\necho 'uv 0.13.9 (test)'\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("uv-0.13.9.data/scripts/uv", script)
        archive.writestr("uv-0.13.9.dist-info/METADATA", "Name: uv\nVersion: 0.13.9\n")
    data = buffer.getvalue()
    filename = "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    text = (
        'lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "uv"\n'
        f'version = "0.13.9"\nwheels = [{{name = "{filename}", '
        f'hashes = {{sha256 = "{sha256_of(data)}"}}}}]\n'
    )
    (tmp_path / "tools.pylock.toml").write_text(text)
    tools = read_pylock(tmp_path / "tools.pylock.toml")
    from packaging.tags import Tag  # noqa: PLC0415

    tags = [Tag("py3", "none", "manylinux_2_17_x86_64")]
    cache = Cache(root=tmp_path / "cache")
    with SimpleIndexServer() as server:
        publish(server, "uv", {filename: data})
        settings = _settings(server, tmp_path)
        binary = ensure_uv(settings, cache, tool_lock=tools, tags=tags)
        assert binary.read_bytes() == script
        assert uv_version(binary) == "0.13.9"
        downloads = len(server.requests_to("/files/"))
        assert ensure_uv(settings, cache, tool_lock=tools, tags=tags) == binary
        assert len(server.requests_to("/files/")) == downloads == 1
    with pytest.raises(LockError, match="no uv wheel for this machine"):
        ensure_uv(settings, cache, tool_lock=tools, tags=[Tag("py3", "none", "win32")])


def test_the_tools_lock_pins_uv_for_both_architectures() -> None:
    (package,) = tool_lock().find(UV)
    assert package.version == Version("0.13.9")
    manylinux = [w.filename for w in package.wheels if "manylinux" in w.filename]
    assert any(name.endswith("_x86_64.whl") for name in manylinux)
    assert any(name.endswith("_aarch64.whl") for name in manylinux)
