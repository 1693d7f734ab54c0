"""containerize-build.lock: sdists' build requirements recorded once, used exactly.

A real wheelhouse is built against a loopback index serving a real sdist and a real
wheel; resolving (pip) is the one thing replaced, to show when it is, and is not, run.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from simple_index_server import SimpleIndexServer, publish, wheel_bytes

from containerize import config
from containerize.errors import LockError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64
from containerize.project import load as project_load
from containerize.resolve import buildenv, buildlock, wheelhouse
from containerize.resolve.cache import Cache
from containerize.resolve.lock import load_lock
from containerize.resolve.pipconfig import IndexSettings, IndexSource
from containerize.resolve.selection import PlatformSelection
from containerize.targets import TargetEnvironment

AMD64 = TargetEnvironment.from_config(LINUX_AMD64)
REQUIRES = "setuptools>=70"

PYPROJECT = """\
[project]
name = "demo"
version = "1.0"
requires-python = ">=3.11"
dependencies = ["native-ext"]

[tool.containerize]
app = "demo:app"
image = "127.0.0.1:5000/demo"
platforms = ["linux/amd64"]
servers = ["gunicorn"]
"""


def sdist(requires: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in {
            "native_ext-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: native-ext\nVersion: 1.0\n",
            "native_ext-1.0/pyproject.toml": f'[build-system]\nrequires = ["{requires}"]\n',
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclasses.dataclass
class Setup:
    cfg: config.Config
    selections: list[PlatformSelection]
    settings: IndexSettings
    cache: Cache
    setuptools: dict[str, str]  # file name -> sha256

    @property
    def lock_file(self) -> Path:
        return buildlock.path_in(self.cfg.project_dir)

    def build(self) -> wheelhouse.Wheelhouse:
        return self.build_with(())

    def build_with(self, compiled: tuple[wheelhouse.CompiledWheel, ...]) -> wheelhouse.Wheelhouse:
        return wheelhouse.build(
            self.selections,
            dest=self.cfg.build_dir / "wheelhouse",
            project_dir=self.cfg.project_dir,
            settings=self.settings,
            cache=self.cache,
            compiled=compiled,
        )

    def record(self, version: str) -> buildlock.Entry:
        filename = f"setuptools-{version}-py3-none-any.whl"
        entry = buildlock.Entry(
            platform="linux/amd64",
            python="3.11",
            requires=(REQUIRES,),
            files=(
                buildlock.PinnedFile(
                    name=canonicalize_name("setuptools"),
                    version=version,
                    filename=filename,
                    sha256=self.setuptools.get(filename, "0" * 64),
                ),
            ),
        )
        buildlock.write(self.lock_file, {entry.key: entry})
        return entry


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    def no_resolving(*args: object, **kwargs: object) -> buildlock.Entry:
        raise AssertionError("build requirements were resolved")

    monkeypatch.setattr(buildlock, "resolve", no_resolving)
    with SimpleIndexServer() as server:
        sdist_hash = publish(server, "native-ext", {"native_ext-1.0.tar.gz": sdist(REQUIRES)})
        setuptools = publish(
            server,
            "setuptools",
            {
                f"setuptools-{v}-py3-none-any.whl": wheel_bytes("setuptools", v)
                for v in ("69.0", "80.0", "81.0")
            },
        )
        project = tmp_path / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text(PYPROJECT)
        (project / "demo.py").write_text("app = None\n")
        (project / "pylock.toml").write_text(
            'lock-version = "1.0"\ncreated-by = "a test"\nrequires-python = ">=3.11"\n\n'
            '[[packages]]\nname = "native-ext"\nversion = "1.0"\ndependencies = []\n'
            f'sdist = {{name = "native_ext-1.0.tar.gz", hashes = {{sha256 = '
            f'"{sdist_hash["native_ext-1.0.tar.gz"]}"}}}}\n'
        )
        cfg = config.load(project, environ={})
        cfg = dataclasses.replace(cfg, build_dir=tmp_path / "build", servers=())
        lock = load_lock(project)
        selections = [
            wheelhouse.select_all(pipeline.wanted(cfg), lock, project_load(project), AMD64)
        ]
        settings = IndexSettings(
            indexes=(IndexSource(name="test", url=f"{server.url}/simple/", origin="the test"),)
        )
        yield Setup(cfg, selections, settings, Cache(root=tmp_path / "cache"), setuptools)


def test_a_missing_entry_is_an_error_naming_the_command_and_writes_nothing(
    setup: Setup,
) -> None:
    with pytest.raises(LockError) as raised:
        setup.build()
    error = raised.value
    assert error.message == (
        f"{setup.lock_file}: no build requirements recorded for native_ext-1.0.tar.gz on "
        f"linux/amd64 with Python 3.11 (they need {REQUIRES})"
    )
    assert error.hint is not None
    assert "run 'containerize pin'" in error.hint
    assert not (setup.cfg.build_dir / "wheelhouse").exists()


def test_a_recorded_entry_is_used_exactly_without_resolving(setup: Setup) -> None:
    entry = setup.record("80.0")
    house = setup.build()
    (item,) = house.platforms
    assert item.build_requirements == entry.files
    manifest = json.loads((item.folder / "build-env.json").read_text())
    (pinned,) = entry.files
    assert manifest["wheels"] == [
        {"name": "setuptools", "version": "80.0", "file": pinned.filename, "sha256": pinned.sha256}
    ]
    assert (item.folder / pinned.filename).is_file()
    assert [p.file.filename for p in item.pending] == ["native_ext-1.0.tar.gz"]


def test_an_entry_that_no_longer_fits_is_an_error(setup: Setup) -> None:
    setup.record("69.0")
    with pytest.raises(LockError) as raised:
        setup.build()
    assert "no longer fit: setuptools-69.0-py3-none-any.whl does not satisfy setuptools>=70" in (
        raised.value.message
    )
    assert raised.value.hint is not None
    assert "containerize pin" in raised.value.hint


def test_pin_keeps_what_fits_and_resolves_only_what_is_missing_or_asked(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = setup.record("80.0")
    before = setup.lock_file.read_text()
    lines = buildenv.pin_build_requirements(
        setup.cfg.project_dir, setup.selections, settings=setup.settings, cache=setup.cache
    )
    assert lines == ["linux/amd64: kept: setuptools 80.0"]
    assert setup.lock_file.read_text() == before

    asked: list[tuple[str, ...]] = []

    def resolve(requires: list[str], target: TargetEnvironment, *, cache: Cache) -> buildlock.Entry:
        asked.append(tuple(requires))
        return entry

    monkeypatch.setattr(buildlock, "resolve", resolve)
    lines = buildenv.pin_build_requirements(
        setup.cfg.project_dir,
        setup.selections,
        settings=setup.settings,
        cache=setup.cache,
        refresh=True,
    )
    assert asked == [(REQUIRES,)]
    assert lines == ["linux/amd64: refreshed: setuptools 80.0"]
    setup.lock_file.unlink()
    lines = buildenv.pin_build_requirements(
        setup.cfg.project_dir, setup.selections, settings=setup.settings, cache=setup.cache
    )
    assert lines == ["linux/amd64: recorded: setuptools 80.0"]
    assert buildlock.read(setup.lock_file) == {entry.key: entry}
    assert setup.lock_file.read_text().startswith("# Written by containerize")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("build-requirements = 3\n", "build-requirements must be an array of tables"),
        ("[[build-requirements]]\nplatform = 1\n", "build-requirements[0].platform: expected"),
        (
            '[[build-requirements]]\nplatform = "linux/amd64"\npython = "3.11"\n'
            'requires = ["x"]\nfiles = [{name = "x", version = "1", file = "x-1-py3-none-any.whl",'
            ' sha256 = "nothex"}]\n',
            "build-requirements[0].files[0].sha256: 'nothex' is not a sha256 hex digest",
        ),
        (
            '[[build-requirements]]\nplatform = "linux/amd64"\npython = "3.11"\n'
            'requires = ["x"]\nfiles = [{name = "y", version = "1", file = "x-1-py3-none-any.whl",'
            f' sha256 = "{"a" * 64}"}}]\n',
            "build-requirements[0].files[0]: x-1-py3-none-any.whl is not y 1",
        ),
        ("not = [toml", "not valid TOML"),
    ],
)
def test_a_damaged_file_is_reported_where(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / buildlock.FILE_NAME
    path.write_text(text)
    with pytest.raises(LockError) as raised:
        buildlock.read(path)
    assert raised.value.message.startswith(f"{path}: ")
    assert where in raised.value.message
    assert raised.value.hint is not None
    assert "containerize pin" in raised.value.hint
