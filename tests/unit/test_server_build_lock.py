"""What the sdists of containerize's own servers are built with: containerize's own
hashed record (``servers-build.lock``), never the project's ``containerize-build.lock``.

A real wheelhouse is built against a loopback index serving real sdists and wheels;
containerize's two locks are replaced by small ones naming those files, and resolving
(pip) is replaced, to show when it is, and is not, run.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from simple_index_server import SimpleIndexServer, publish, wheel_bytes

from containerize import config
from containerize.errors import LockError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.project import load as project_load
from containerize.resolve import buildenv, buildlock, ownlocks, wheelhouse
from containerize.resolve.cache import Cache
from containerize.resolve.lock import load_lock
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.pipconfig import IndexSettings, IndexSource
from containerize.resolve.selection import PlatformSelection
from containerize.targets import TargetEnvironment

SHIPPED = Path(wheelhouse.__file__).parents[1] / "servers" / ownlocks.SERVER_BUILD_LOCK_FILE
AMD64 = TargetEnvironment.from_config(LINUX_AMD64)
#: What the test's mod_wsgi and the project's own sdist are built with.
MOD_WSGI_REQUIRES = ("setuptools>=40.8.0", "wheel")
EXT_REQUIRES = ("setuptools>=70",)


def sdist(name: str, version: str, requires: tuple[str, ...]) -> bytes:
    folder = f"{name.replace('-', '_')}-{version}"
    listed = ", ".join(f'"{r}"' for r in requires)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, text in {
            f"{folder}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            f"{folder}/pyproject.toml": f"[build-system]\nrequires = [{listed}]\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pylock(packages: dict[str, tuple[str, str]]) -> str:
    """A ``pylock.toml`` of sdist-only packages: name -> (file name, sha256)."""
    text = 'lock-version = "1.0"\ncreated-by = "a test"\nrequires-python = ">=3.11"\n'
    for name, (filename, sha256) in sorted(packages.items()):
        version = filename.removesuffix(".tar.gz").rsplit("-", 1)[1]
        text += (
            f'\n[[packages]]\nname = "{name}"\nversion = "{version}"\ndependencies = []\n'
            f'sdist = {{name = "{filename}", hashes = {{sha256 = "{sha256}"}}}}\n'
        )
    return text


@dataclasses.dataclass
class Index:
    server: SimpleIndexServer
    settings: IndexSettings
    sdists: dict[str, str]  # file name -> sha256
    wheels: dict[str, str]  # file name -> sha256
    tmp: Path

    def pinned(self, name: str, version: str) -> buildlock.PinnedFile:
        filename = f"{name}-{version}-py3-none-any.whl"
        return buildlock.PinnedFile(
            name=canonicalize_name(name),
            version=version,
            filename=filename,
            sha256=self.wheels[filename],
        )

    def entry(self, requires: tuple[str, ...], *files: buildlock.PinnedFile) -> buildlock.Entry:
        return buildlock.Entry(
            platform="linux/amd64", python="3.11", requires=tuple(sorted(requires)), files=files
        )

    def project(
        self, name: str, *, dependencies: tuple[str, ...], servers: tuple[str, ...]
    ) -> config.Config:
        folder = self.tmp / name
        folder.mkdir()
        quoted = ", ".join(f'"{d}"' for d in dependencies)
        (folder / "pyproject.toml").write_text(
            f'[project]\nname = "demo"\nversion = "1.0"\nrequires-python = ">=3.11"\n'
            f"dependencies = [{quoted}]\n\n[tool.containerize]\n"
            'app = "demo:app"\nimage = "127.0.0.1:5000/demo"\nplatforms = ["linux/amd64"]\n'
        )
        (folder / "demo.py").write_text("app = None\n")
        files = {"native-ext": "native_ext-1.0.tar.gz", "mod-wsgi": "mod_wsgi-6.0.tar.gz"}
        (folder / "pylock.toml").write_text(
            pylock({d: (files[d], self.sdists[files[d]]) for d in dependencies})
        )
        cfg = config.load(folder, environ={})
        return dataclasses.replace(cfg, build_dir=self.tmp / f"{name}-build", servers=servers)

    def selections(self, cfg: config.Config) -> list[PlatformSelection]:
        lock = load_lock(cfg.project_dir)
        return [
            wheelhouse.select_all(pipeline.wanted(cfg), lock, project_load(cfg.project_dir), AMD64)
        ]

    def build(self, cfg: config.Config) -> wheelhouse.PlatformWheelhouse:
        (item,) = wheelhouse.build(
            self.selections(cfg),
            dest=cfg.build_dir / "wheelhouse",
            project_dir=cfg.project_dir,
            settings=self.settings,
            cache=Cache(root=self.tmp / "c"),
        ).platforms
        return item

    def pin(
        self, cfg: config.Config, *, refresh: bool = False, missing_only: bool = False
    ) -> list[str]:
        return buildenv.pin_build_requirements(
            cfg.project_dir,
            self.selections(cfg),
            settings=self.settings,
            cache=Cache(root=self.tmp / "c"),
            refresh=refresh,
            missing_only=missing_only,
        )


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Index]:
    def no_resolving(*args: object, **kwargs: object) -> buildlock.Entry:
        raise AssertionError("build requirements were resolved")

    monkeypatch.setattr(buildlock, "resolve", no_resolving)
    with SimpleIndexServer() as server:
        sdists = {
            **publish(
                server,
                "mod-wsgi",
                {"mod_wsgi-6.0.tar.gz": sdist("mod_wsgi", "6.0", MOD_WSGI_REQUIRES)},
            ),
            **publish(
                server,
                "native-ext",
                {"native_ext-1.0.tar.gz": sdist("native_ext", "1.0", EXT_REQUIRES)},
            ),
        }
        wheels: dict[str, str] = {}
        for name, versions in {"setuptools": ("69.0", "80.0", "81.0"), "wheel": ("0.45",)}.items():
            wheels |= publish(
                server,
                name,
                {f"{name}-{v}-py3-none-any.whl": wheel_bytes(name, v) for v in versions},
            )
        shipped = tmp_path / "servers.pylock.toml"
        shipped.write_text(
            pylock({"mod-wsgi": ("mod_wsgi-6.0.tar.gz", sdists["mod_wsgi-6.0.tar.gz"])})
        )
        monkeypatch.setattr(ownlocks, "server_lock", lambda: read_pylock(shipped))
        settings = IndexSettings(
            indexes=(IndexSource(name="test", url=f"{server.url}/simple/", origin="the test"),)
        )
        made = Index(server=server, settings=settings, sdists=sdists, wheels=wheels, tmp=tmp_path)
        own = made.entry(
            MOD_WSGI_REQUIRES, made.pinned("setuptools", "81.0"), made.pinned("wheel", "0.45")
        )
        monkeypatch.setattr(ownlocks, "server_build_lock", lambda: {own.key: own})
        yield made


def build_env(item: wheelhouse.PlatformWheelhouse) -> list[str]:
    return [w["file"] for w in json.loads((item.folder / "build-env.json").read_text())["wheels"]]


def test_a_server_from_containerizes_lock_needs_no_build_lock_of_the_project(
    index: Index,
) -> None:
    cfg = index.project("only-mod-wsgi", dependencies=(), servers=("mod_wsgi",))
    item = index.build(cfg)
    assert [p.file.filename for p in item.pending] == ["mod_wsgi-6.0.tar.gz"]
    assert build_env(item) == ["setuptools-81.0-py3-none-any.whl", "wheel-0.45-py3-none-any.whl"]
    lock_file = buildlock.path_in(cfg.project_dir)
    assert not lock_file.exists()
    # pin says where they come from and writes nothing either.
    assert index.pin(cfg) == [
        "linux/amd64: mod_wsgi-6.0.tar.gz: containerize's own: setuptools 81.0, wheel 0.45"
    ]
    assert not lock_file.exists()


def test_the_projects_own_pin_of_mod_wsgi_goes_through_its_build_lock(index: Index) -> None:
    cfg = index.project("pins-mod-wsgi", dependencies=("mod-wsgi",), servers=("mod_wsgi",))
    with pytest.raises(LockError) as raised:
        index.build(cfg)
    assert raised.value.message.startswith(
        f"{buildlock.path_in(cfg.project_dir)}: no build requirements recorded for "
        "mod_wsgi-6.0.tar.gz on linux/amd64 with Python 3.11"
    )


def test_the_projects_sdists_are_keyed_by_their_own_requirements_alone(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Choosing mod_wsgi as a server does not change the project's entry: its pins
    win where both pin a package, containerize's fill in the rest."""
    cfg = index.project("both", dependencies=("native-ext",), servers=("mod_wsgi",))
    mine = index.entry(EXT_REQUIRES, index.pinned("setuptools", "80.0"))
    buildlock.write(buildlock.path_in(cfg.project_dir), {mine.key: mine})
    item = index.build(cfg)
    assert sorted(p.file.filename for p in item.pending) == [
        "mod_wsgi-6.0.tar.gz",
        "native_ext-1.0.tar.gz",
    ]
    assert build_env(item) == ["setuptools-80.0-py3-none-any.whl", "wheel-0.45-py3-none-any.whl"]
    assert index.pin(cfg) == [
        "linux/amd64: mod_wsgi-6.0.tar.gz: containerize's own: setuptools 81.0, wheel 0.45",
        "linux/amd64: kept: setuptools 80.0",
    ]


def test_project_pins_that_cannot_join_containerizes_are_resolved_with_them(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mod_wsgi that needs a newer setuptools than the project's entry pins: the
    build says the entry no longer fits; pin resolves both sdists' requirements
    together, recorded under the project's key, so its pins win again."""
    newer = ("setuptools>=81", "wheel")
    published = publish(
        index.server, "mod-wsgi", {"mod_wsgi-6.1.tar.gz": sdist("mod_wsgi", "6.1", newer)}
    )
    shipped = index.tmp / "newer.pylock.toml"
    shipped.write_text(
        pylock({"mod-wsgi": ("mod_wsgi-6.1.tar.gz", published["mod_wsgi-6.1.tar.gz"])})
    )
    monkeypatch.setattr(ownlocks, "server_lock", lambda: read_pylock(shipped))
    own = index.entry(newer, index.pinned("setuptools", "81.0"), index.pinned("wheel", "0.45"))
    monkeypatch.setattr(ownlocks, "server_build_lock", lambda: {own.key: own})
    cfg = index.project("conflict", dependencies=("native-ext",), servers=("mod_wsgi",))
    old = index.entry(EXT_REQUIRES, index.pinned("setuptools", "80.0"))
    lock_file = buildlock.path_in(cfg.project_dir)
    buildlock.write(lock_file, {old.key: old})
    with pytest.raises(LockError) as raised:
        index.build(cfg)
    assert "no longer fit: setuptools-80.0-py3-none-any.whl does not satisfy setuptools>=81" in (
        raised.value.message
    )

    asked: list[tuple[str, ...]] = []
    both = tuple(sorted({*EXT_REQUIRES, *newer}))
    results = {
        EXT_REQUIRES: old,
        both: index.entry(both, index.pinned("setuptools", "81.0"), index.pinned("wheel", "0.45")),
    }

    def resolve(requires: list[str], target: TargetEnvironment, *, cache: Cache) -> buildlock.Entry:
        asked.append(tuple(requires))
        return results[tuple(requires)]

    monkeypatch.setattr(buildlock, "resolve", resolve)
    lines = index.pin(cfg)
    assert asked == [EXT_REQUIRES, both]
    assert lines[-1] == "linux/amd64: was stale: setuptools 81.0, wheel 0.45"
    (recorded,) = buildlock.read(lock_file).values()
    assert recorded.requires == EXT_REQUIRES
    assert build_env(index.build(cfg)) == [
        "setuptools-81.0-py3-none-any.whl",
        "wheel-0.45-py3-none-any.whl",
    ]


def test_a_build_records_what_is_missing_once_and_keeps_the_rest(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = index.project("missing", dependencies=("native-ext",), servers=())
    lock_file = buildlock.path_in(cfg.project_dir)
    other = dataclasses.replace(
        index.entry(EXT_REQUIRES, index.pinned("setuptools", "80.0")), platform="linux/arm64"
    )
    buildlock.write(lock_file, {other.key: other})
    made = index.entry(EXT_REQUIRES, index.pinned("setuptools", "81.0"))
    calls: list[str] = []

    def resolve(requires: list[str], target: TargetEnvironment, *, cache: Cache) -> buildlock.Entry:
        calls.append(str(target.platform))
        return made

    monkeypatch.setattr(buildlock, "resolve", resolve)
    assert index.pin(cfg, missing_only=True) == [
        "recorded build requirements for native_ext-1.0.tar.gz (linux/amd64, Python 3.11) in "
        "containerize-build.lock: setuptools 81.0; commit it"
    ]
    # The other platform's entry is kept: this build was for linux/amd64 alone.
    assert buildlock.read(lock_file) == {other.key: other, made.key: made}
    assert index.pin(cfg, missing_only=True) == []
    assert calls == ["linux/amd64"]
    assert build_env(index.build(cfg)) == ["setuptools-81.0-py3-none-any.whl"]


# -- The shipped record ------------------------------------------------------------------


def test_the_shipped_record_covers_every_target_containerize_supports() -> None:
    """mod_wsgi (sdist only) on both platforms, Python 3.11 to 3.13; each entry fits."""
    entries = ownlocks.server_build_lock()
    assert SHIPPED.read_text().startswith("# What the sdists of containerize's own servers'")
    assert "://" not in SHIPPED.read_text()
    (mod_wsgi,) = ownlocks.server_lock().find(NormalizedName("mod-wsgi"))
    assert mod_wsgi.sdist is not None
    assert not mod_wsgi.wheels
    for platform in (LINUX_AMD64, LINUX_ARM64):
        for python in ((3, 11), (3, 12), (3, 13)):
            target = TargetEnvironment.from_config(platform, python)
            found = [e for e in entries.values() if e.key[:2] == buildlock.key_for(target, ())[:2]]
            assert found, (platform, python)
            for entry in found:
                assert buildlock.problems(entry, target) == []
                assert {f.name for f in entry.files} >= {"setuptools", "wheel"}
