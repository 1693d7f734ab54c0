"""Hashed requirements files as locks: pip-compile's and uv's real output, hand-written
edge cases, and the naming of hashed files from a local simple index."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path

import pytest
from lock_testdata import LOCKS, ROOT, copy_project, replace_in
from packaging.utils import canonicalize_name
from packaging.version import Version
from simple_index_server import SimpleIndexServer, publish

from containerize import cli
from containerize.errors import FetchError, LockError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.project import load as project_load
from containerize.project import read_project
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FileRequest, fetch
from containerize.resolve.filenames import name_files
from containerize.resolve.lock import (
    check_fresh,
    detect_format,
    load_lock,
    lock_sources,
    read_lock,
)
from containerize.resolve.lock.requirements import read_requirements
from containerize.resolve.pipconfig import IndexSettings, IndexSource, discover
from containerize.resolve.selection import select
from containerize.resolve.wheelhouse import index_settings
from containerize.targets import TargetEnvironment

PIP_COMPILE = LOCKS / "pip-compile"
UV_PIP_COMPILE = LOCKS / "uv-pip-compile"
PIN_RE = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)", re.MULTILINE)
NO_INDEX = IndexSettings(indexes=())


def _pins_in(path: Path) -> dict[str, Version]:
    """The pins of a compiled file, read with a regex (independently of the reader)."""
    return {canonicalize_name(n): Version(v) for n, v in PIN_RE.findall(path.read_text())}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_index(root: Path, files: dict[str, bytes], *, html: bool = True) -> Path:
    """A ``file://`` simple index under *root*: one folder per project, with a PEP 503
    ``index.html`` carrying ``#sha256=`` fragments (or, without *html*, bare files)."""
    for filename, data in files.items():
        project = canonicalize_name(filename.split("-", 1)[0])
        folder = root / project
        folder.mkdir(parents=True, exist_ok=True)
        (folder / filename).write_bytes(data)
    if html:
        for folder in root.iterdir():
            links = "".join(
                f'<a href="{f.name}#sha256={_sha(f.read_bytes())}">{f.name}</a>\n'
                for f in sorted(folder.iterdir())
            )
            (folder / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return root


def _settings(index: Path) -> IndexSettings:
    return IndexSettings(
        indexes=(IndexSource(name="test", url=index.as_uri() + "/", origin="test"),)
    )


# -- Real files made by the tools -------------------------------------------------------


def test_reads_pip_compile_output() -> None:
    path = PIP_COMPILE / "requirements.txt"
    lock = read_requirements(path)
    assert lock.format == "requirements"
    assert lock.generator == "pip-compile"
    assert lock.recorded_command is not None
    assert lock.recorded_command.startswith("pip-compile --generate-hashes")
    assert lock.relock_command == lock.recorded_command
    assert not lock.has_graph
    assert lock.indexes == ()
    assert {p.name: p.version for p in lock.packages} == _pins_in(path)
    # Every --hash of the file is kept, none is named yet.
    hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", path.read_text())
    assert sorted(h for p in lock.packages for h in p.unnamed_hashes) == sorted(hashes)
    assert all(not p.files for p in lock.packages)
    assert lock.needs_file_names


def test_reads_uv_pip_compile_output_with_markers() -> None:
    path = UV_PIP_COMPILE / "requirements.txt"
    lock = read_lock(path)
    assert lock.generator == "uv"
    assert lock.recorded_command is not None
    assert lock.recorded_command.startswith("uv pip compile")
    assert {p.name: p.version for p in lock.packages} == _pins_in(path)
    (colorama,) = lock.find(canonicalize_name("colorama"))
    assert colorama.marker is not None
    assert colorama.marker.evaluate({"sys_platform": "win32"})
    assert not colorama.marker.evaluate({"sys_platform": "linux"})


@pytest.mark.parametrize("folder", [PIP_COMPILE, UV_PIP_COMPILE])
def test_compiled_files_are_fresh(folder: Path) -> None:
    lock = read_lock(folder / "requirements.txt")
    check_fresh(lock, project_load(folder))


def test_fixture_project_lock_is_fresh_and_holds_its_inputs() -> None:
    fixture = ROOT / "fixtures" / "flask-pip-compile"
    lock = read_lock(fixture / "requirements.txt")
    check_fresh(lock, project_load(fixture))
    inputs = {canonicalize_name(n) for n in (fixture / "requirements.in").read_text().split()}
    assert inputs <= lock.names
    # pyuwsgi ships wheels per platform: the file lists far more hashes than one.
    (pyuwsgi,) = lock.find(canonicalize_name("pyuwsgi"))
    assert len(pyuwsgi.unnamed_hashes) > 2


def test_stale_when_a_root_is_missing_or_excluded(tmp_path: Path) -> None:
    project_dir = copy_project(PIP_COMPILE, tmp_path)
    replace_in(project_dir / "pyproject.toml", '"gunicorn>=23"', '"gunicorn>=99", "requests>=2"')
    lock = read_lock(project_dir / "requirements.txt")
    with pytest.raises(LockError) as info:
        check_fresh(lock, project_load(project_dir))
    message = info.value.message
    assert "requests (main) is not in the lock" in message
    assert "gunicorn>=99 (main) but the lock has" in message
    # The hint repeats the command the file says made it.
    assert info.value.hint is not None
    assert "pip-compile --generate-hashes" in info.value.hint


def test_detects_requirements_files() -> None:
    assert detect_format(Path("requirements.txt")) == "requirements"
    assert detect_format(Path("requirements/prod.txt")) == "requirements"
    assert detect_format(Path("locks/anything.txt")) == "requirements"
    with pytest.raises(LockError, match="requirements file with hashes"):
        detect_format(Path("requirements.in"))


def test_requirements_txt_is_found_only_without_another_lock(tmp_path: Path) -> None:
    project_dir = copy_project(PIP_COMPILE, tmp_path)
    lock = load_lock(project_dir)
    assert (lock.format, lock.path.name, lock.needs_file_names) == (
        "requirements",
        "requirements.txt",
        True,
    )
    # An index that lists none of the files: naming them fails, naming the package.
    with pytest.raises(FetchError, match="none of its 2 hashed files is listed"):
        name_files(lock, NO_INDEX)
    shutil.copy(LOCKS / "uv" / "uv.lock", project_dir / "uv.lock")
    assert load_lock(project_dir).format == "uv"


def test_no_lock_names_requirements_folder(tmp_path: Path) -> None:
    (tmp_path / "requirements").mkdir()
    with pytest.raises(LockError, match=r"requirements\.txt") as info:
        load_lock(tmp_path)
    assert info.value.hint is not None
    assert "requirements/*.txt" in info.value.hint


# -- Naming hashed files from an index, then selecting and fetching -----------------------

WHEEL_AMD64 = "demo_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
WHEEL_ARM64 = "demo_pkg-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"
SDIST = "demo_pkg-1.0.tar.gz"
FILES = {
    WHEEL_AMD64: b"amd64 wheel bytes",
    WHEEL_ARM64: b"arm64 wheel bytes",
    SDIST: b"sdist bytes",
    "demo_pkg-0.9-py3-none-any.whl": b"an older version",
}


def _demo_project(tmp_path: Path, hashes: list[str]) -> Path:
    project_dir = tmp_path / "demo"
    project_dir.mkdir()
    (project_dir / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1"\ndependencies = ["demo-pkg"]\n'
    )
    options = " \\\n".join(f"    --hash=sha256:{h}" for h in hashes)
    (project_dir / "requirements.txt").write_text(f"demo-pkg==1.0 \\\n{options}\n")
    return project_dir


@pytest.mark.parametrize("html", [True, False], ids=["pep503-page", "bare-folder"])
def test_names_files_then_selects_per_platform_and_fetches(tmp_path: Path, html: bool) -> None:
    index = _write_index(tmp_path / "simple", FILES, html=html)
    locked = [WHEEL_AMD64, WHEEL_ARM64, SDIST]
    project_dir = _demo_project(tmp_path, [_sha(FILES[name]) for name in locked])
    settings = _settings(index)

    lock = name_files(load_lock(project_dir), settings)

    assert not lock.needs_file_names
    (package,) = lock.packages
    assert [f.filename for f in package.files] == sorted(locked)
    assert {f.filename: f.sha256 for f in package.files} == {n: _sha(FILES[n]) for n in locked}
    project = project_load(project_dir)
    check_fresh(lock, project)
    chosen = {}
    for platform in (LINUX_AMD64, LINUX_ARM64):
        (selected,) = select(lock, project, TargetEnvironment.from_config(platform)).packages
        chosen[platform] = selected.file
    assert chosen[LINUX_AMD64].filename == WHEEL_AMD64
    assert chosen[LINUX_ARM64].filename == WHEEL_ARM64

    # The named files carry the URL they were found at: the fetch downloads and
    # hash-checks them from there.
    report = fetch(
        [
            FileRequest(
                name=package.name,
                version=str(package.version),
                filename=f.filename,
                sha256=f.sha256,
                url=f.url,
            )
            for f in chosen.values()
        ],
        settings=NO_INDEX,
        cache=Cache(root=tmp_path / "cache"),
        dest=tmp_path / "wheelhouse",
    )
    assert sorted(f.filename for f in report.files) == sorted([WHEEL_AMD64, WHEEL_ARM64])
    assert (tmp_path / "wheelhouse" / WHEEL_ARM64).read_bytes() == FILES[WHEEL_ARM64]


def test_sdist_only_when_no_wheel_is_locked_for_the_platform(tmp_path: Path) -> None:
    index = _write_index(tmp_path / "simple", FILES)
    project_dir = _demo_project(tmp_path, [_sha(FILES[WHEEL_AMD64]), _sha(FILES[SDIST])])
    lock = name_files(load_lock(project_dir), _settings(index))
    project = project_load(project_dir)
    arm = select(lock, project, TargetEnvironment.from_config(LINUX_ARM64))
    assert [p.file.filename for p in arm.sdist_fallbacks] == [SDIST]


def test_hash_missing_from_the_index_is_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = _write_index(tmp_path / "simple", FILES)
    unknown = _sha(b"a wheel this index does not have")
    project_dir = _demo_project(tmp_path, [_sha(FILES[WHEEL_AMD64]), unknown])
    with caplog.at_level(logging.WARNING):
        lock = name_files(load_lock(project_dir), _settings(index))
    assert [f.filename for f in lock.packages[0].files] == [WHEEL_AMD64]
    assert "1 of its 2 hashed files are not listed" in caplog.text


def test_no_hash_on_any_index_is_an_error(tmp_path: Path) -> None:
    index = _write_index(tmp_path / "simple", FILES)
    project_dir = _demo_project(tmp_path, [_sha(b"nowhere")])
    with pytest.raises(FetchError, match=r"demo-pkg==1\.0: none of its 1 hashed files") as info:
        name_files(load_lock(project_dir), _settings(index))
    assert index.as_uri() in info.value.message
    assert info.value.hint is not None
    assert "extra-index-url" in info.value.hint


def test_hash_of_another_version_is_an_error(tmp_path: Path) -> None:
    index = _write_index(tmp_path / "simple", FILES)
    project_dir = _demo_project(tmp_path, [_sha(FILES["demo_pkg-0.9-py3-none-any.whl"])])
    with pytest.raises(LockError, match=r"demo_pkg-0\.9-py3-none-any\.whl, a file of version 0\.9"):
        name_files(load_lock(project_dir), _settings(index))


def test_find_links_named_in_the_file_are_searched(tmp_path: Path) -> None:
    project_dir = _demo_project(tmp_path, [_sha(FILES[WHEEL_AMD64])])
    wheels = project_dir / "wheels"
    wheels.mkdir()
    (wheels / WHEEL_AMD64).write_bytes(FILES[WHEEL_AMD64])
    text = (project_dir / "requirements.txt").read_text()
    (project_dir / "requirements.txt").write_text("--find-links ./wheels\n" + text)
    lock = read_lock(project_dir / "requirements.txt")
    settings = discover(project_dir, config_files=[], environ={}, lock_sources=lock_sources(lock))
    assert [f.path for f in settings.find_links] == [wheels]
    named = name_files(lock, settings)
    assert [f.filename for f in named.packages[0].files] == [WHEEL_AMD64]


# -- Hand-written files: the syntax pip accepts --------------------------------------------

HASH_A = "a" * 64
HASH_B = "b" * 64


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_markers_extras_continuations_and_comments(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "requirements.txt",
        "# a comment\n"
        "\n"
        "Uvicorn[standard]==0.30.0 \\\n"
        f"    --hash=sha256:{HASH_A}  # the only hash\n"
        "    # via -r requirements.in\n"
        f'tomli==2.0.1 ; python_version < "3.11" --hash sha256:{HASH_B.upper()}\n'
        f'numpy==1.26.4 ; python_version < "3.12" --hash=sha256:{HASH_A}\n'
        f'numpy==2.1.0 ; python_version >= "3.12" --hash=sha256:{HASH_B}\n',
    )
    lock = read_requirements(path)
    assert [(str(p.name), str(p.version)) for p in lock.packages] == [
        ("numpy", "1.26.4"),
        ("numpy", "2.1.0"),
        ("tomli", "2.0.1"),
        ("uvicorn", "0.30.0"),
    ]
    (tomli,) = lock.find(canonicalize_name("tomli"))
    assert str(tomli.marker) == 'python_version < "3.11"'
    assert tomli.unnamed_hashes == (HASH_B,)
    (uvicorn,) = lock.find(canonicalize_name("uvicorn"))
    assert uvicorn.marker is None
    assert uvicorn.unnamed_hashes == (HASH_A,)


def test_includes_are_relative_to_the_including_file(tmp_path: Path) -> None:
    _write(tmp_path, "requirements/base.txt", f"flask==3.0.0 --hash=sha256:{HASH_A}\n")
    _write(tmp_path, "requirements/common.txt", "-r base.txt\n")
    _write(tmp_path, "requirements/constraints.txt", "flask<4\ngunicorn!=22.0.0\n")
    path = _write(
        tmp_path,
        "requirements/prod.txt",
        "-r base.txt\n"
        "--requirement=common.txt\n"
        "-cconstraints.txt\n"
        f"gunicorn==23.0.0 --hash=sha256:{HASH_B}\n",
    )
    lock = read_lock(path)
    assert [str(p.name) for p in lock.packages] == ["flask", "gunicorn"]


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", f"flask==3.0.0 --hash=sha256:{HASH_A}\n-r b.txt\n")
    _write(tmp_path, "b.txt", "# b includes a\n-r a.txt\n")
    with pytest.raises(LockError) as info:
        read_lock(tmp_path / "a.txt")
    assert info.value.message == "b.txt:2: include cycle: a.txt -> b.txt -> a.txt"


def test_missing_include_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "requirements.txt", "\n-r nowhere.txt\n")
    with pytest.raises(LockError, match=r"^requirements.txt:2: cannot read nowhere.txt"):
        read_lock(path)


def test_constraint_violation_names_both_lines(tmp_path: Path) -> None:
    _write(tmp_path, "constraints.txt", "flask<3\n")
    path = _write(
        tmp_path, "requirements.txt", f"-c constraints.txt\nflask==3.0.0 --hash=sha256:{HASH_A}\n"
    )
    with pytest.raises(LockError) as info:
        read_lock(path)
    assert info.value.message == (
        "constraints.txt:1: the constraint flask<3 excludes flask==3.0.0, "
        "pinned at requirements.txt:2"
    )


def test_index_options_are_recorded_and_searched_after_the_users(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "requirements.txt",
        "--index-url https://index.invalid/simple\n"
        "--extra-index-url=https://extra.invalid/simple\n"
        "--trusted-host index.invalid\n"
        "--require-hashes\n"
        f"flask==3.0.0 --hash=sha256:{HASH_A}\n",
    )
    lock = read_lock(path)
    assert [(i.option, i.url, i.origin) for i in lock.indexes] == [
        ("index-url", "https://index.invalid/simple", "requirements.txt:1"),
        ("extra-index-url", "https://extra.invalid/simple", "requirements.txt:2"),
    ]
    settings = discover(
        tmp_path,
        config_files=[],
        environ={"PIP_INDEX_URL": "https://mine.invalid/simple"},
        lock_sources=lock_sources(lock),
    )
    assert [(i.url, i.origin) for i in settings.indexes] == [
        ("https://mine.invalid/simple/", "environment variable PIP_INDEX_URL"),
        ("https://index.invalid/simple/", "requirements.txt:1"),
        ("https://extra.invalid/simple/", "requirements.txt:2"),
    ]


def test_wheelhouse_index_settings_add_the_locks_indexes(tmp_path: Path) -> None:
    path = _write(tmp_path, "requirements.txt", "--extra-index-url https://extra.invalid/simple\n")
    _write(tmp_path, "pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    project = read_project(tmp_path / "pyproject.toml")
    settings = index_settings(project, read_lock(path))
    assert settings.indexes[-1].url == "https://extra.invalid/simple/"
    assert settings.indexes[-1].origin == "requirements.txt:1"


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            "# pinned, no hashes\nflask==3.0.0\n",
            "requirements.txt:2: flask==3.0.0 has no --hash",
            "pip-compile --generate-hashes",
        ),
        (
            f"flask>=3 \\\n    --hash=sha256:{HASH_A}\n",
            "requirements.txt:1: flask>=3 is not pinned to one version",
            "uv pip compile --generate-hashes",
        ),
        (
            f"\n\nflask==3.* --hash=sha256:{HASH_A}\n",
            "requirements.txt:3: flask==3.* is not pinned to one version",
            "--generate-hashes",
        ),
        ("-e .\n", "requirements.txt:1: '.' is no package: no setup.py", "pyproject.toml"),
        (
            "-e git+https://git.invalid/demo.git#egg=demo\n",
            "requirements.txt:1: editable requirement 'git+https://git.invalid/demo.git#egg=demo'",
            "-e ./lib",
        ),
        (
            "demo @ https://files.invalid/demo-1.0-py3-none-any.whl\n",
            "requirements.txt:1: demo @ https://files.invalid/demo-1.0-py3-none-any.whl is a "
            "URL requirement",
            "name==version",
        ),
        (
            "git+https://git.invalid/demo.git#egg=demo\n",
            "requirements.txt:1: 'git+https://git.invalid/demo.git#egg=demo' is a URL, VCS",
            "name==version",
        ),
        (
            "\n./vendor/demo\n",
            "requirements.txt:2: the local package folder './vendor/demo' does not exist",
            "relative to",
        ),
        (
            "../elsewhere\n",
            "requirements.txt:1: the local package folder '../elsewhere' is outside the project",
            "move the package",
        ),
        ("--no-binary :all:\n", "requirements.txt:1: unsupported option '--no-binary'", "-r"),
        (
            "flask==3.0.0 --hash=md5:0123\n",
            "requirements.txt:1: --hash=md5:0123: only sha256 hashes",
            "--generate-hashes",
        ),
        (
            "flask==3.0.0 --hash=sha256:abc\n",
            "requirements.txt:1: --hash=sha256:abc: not a sha256 hex digest",
            "--generate-hashes",
        ),
        (
            f"flask==3.0.0 --hash=sha256:{HASH_A} --config-settings x=y\n",
            "requirements.txt:1: unsupported option '--config-settings'",
            "--hash",
        ),
        (
            "--extra-index-url https://${TOKEN}@index.invalid/simple\n",
            "requirements.txt:1: extra-index-url 'https://${TOKEN}@index.invalid/simple': "
            "environment variables are not expanded",
            "netrc",
        ),
        ("--index-url\n", "requirements.txt:1: --index-url needs a value", "regenerate"),
        (
            f"flask==3.0.0 --hash=sha256:{HASH_A}\nFlask==3.0.0 --hash=sha256:{HASH_B}\n",
            "requirements.txt:2: flask==3.0.0 is pinned again, differently, at requirements.txt:1",
            "regenerate",
        ),
        (
            f"flask==3.0.0 --hash=sha256:{HASH_A}\nflask==3.1.0 --hash=sha256:{HASH_B}\n",
            "requirements.txt:2: flask is pinned to 3.1.0 here and to 3.0.0 at "
            "requirements.txt:1, without markers",
            "regenerate",
        ),
        ("flask===foo\n", "requirements.txt:1: 'foo' is not a valid version", "--generate-hashes"),
        (
            "flask==3.0.0 ; python_version >\n",
            "requirements.txt:1: not a valid requirement",
            "regenerate",
        ),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, text: str, message: str, hint: str) -> None:
    path = _write(tmp_path, "requirements.txt", text)
    with pytest.raises(LockError) as info:
        read_lock(path)
    assert info.value.message.startswith(message)
    assert info.value.hint is not None
    assert hint in info.value.hint


def test_cli_reports_an_unhashed_lock_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project_dir = tmp_path / "app"
    _write(project_dir, "app.py", "def app(environ, start_response):\n    return []\n")
    _write(
        project_dir,
        "pyproject.toml",
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask"]\n\n'
        '[tool.containerize]\napp = "app:app"\nservers = ["gunicorn"]\n'
        'lock = "requirements.txt"\n',
    )
    _write(project_dir, "requirements.txt", "flask==3.0.0\ngunicorn==23.0.0\n")
    code = cli.main(["--project", str(project_dir), "build", "--dry-run"])
    err = capsys.readouterr().err
    assert code == LockError.exit_code
    assert "Traceback" not in err
    assert "requirements.txt:1: flask==3.0.0 has no --hash" in err
    assert "hint: compile the file with hashes: 'pip-compile --generate-hashes" in err


# -- Naming remembered: a rebuild asks the index nothing -----------------------------------


def test_names_are_remembered_per_package_hashes_and_sources(tmp_path: Path) -> None:
    locked = [WHEEL_AMD64, WHEEL_ARM64, SDIST]
    names = tmp_path / "names"
    with SimpleIndexServer() as server:
        publish(server, "demo-pkg", {name: FILES[name] for name in locked})
        project_dir = _demo_project(tmp_path, [_sha(FILES[name]) for name in locked])
        index = IndexSource(name="test", url=f"{server.url}/simple/", origin="test")
        settings = IndexSettings(indexes=(index,))

        first = name_files(load_lock(project_dir), settings, names=names)
        pages = len(server.requests_to("/simple/"))
        again = name_files(load_lock(project_dir), settings, names=names)
        assert len(server.requests_to("/simple/")) == pages == 1  # no request the second time
        assert again == first
        assert [f.filename for f in again.packages[0].files] == sorted(locked)

        # Another set of hashes (a re-lock) is read from the index again.
        (project_dir / "requirements.txt").write_text(
            f"demo-pkg==1.0 --hash=sha256:{_sha(FILES[WHEEL_AMD64])}\n"
        )
        fewer = name_files(load_lock(project_dir), settings, names=names)
        assert [f.filename for f in fewer.packages[0].files] == [WHEEL_AMD64]
        assert len(server.requests_to("/simple/")) == 2

        # A damaged entry is not trusted: the page is read again.
        for entry in names.iterdir():
            entry.write_text("{not json")
        name_files(load_lock(project_dir), settings, names=names)
        assert len(server.requests_to("/simple/")) == 3
