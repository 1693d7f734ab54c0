"""The build step script, run for real: hash-checked installs with installer, unpacking.

``wheels.py`` runs inside build steps with the base image's Python; here it runs with
this machine's Python, on real wheels: one made here (tagged for another platform, as
the image build installs them) and containerize's locked installer wheel.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from containerize import buildsteps
from containerize.project import load as project_load
from containerize.resolve import buildlock, ownlocks, wheelhouse
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FileRequest, fetch

SCRIPT = buildsteps.FOLDER / "wheels.py"
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
REPO = Path(__file__).resolve().parents[2]


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(folder: Path, tag: str = "cp311-cp311-manylinux_2_17_aarch64") -> Path:
    """A real wheel for another platform: a module, a 'native' file, a console script."""
    files = {
        "hello_pkg/__init__.py": b"def main():\n    print('hello')\n",
        "hello_pkg/_native.cpython-311-aarch64-linux-gnu.so": b"\x7fELF not really",
        "hello_pkg-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: hello-pkg\nVersion: 1.0\n"
        ),
        "hello_pkg-1.0.dist-info/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n"
        ).encode(),
        "hello_pkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\nhello = hello_pkg:main\n",
    }
    record = [record_line(name, data) for name, data in files.items()]
    record.append("hello_pkg-1.0.dist-info/RECORD,,")
    path = folder / f"hello_pkg-1.0-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("hello_pkg-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def entry(path: Path) -> dict[str, str]:
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The locked installer and pip wheels with tools.json, as the build writes them."""
    folder = tmp_path_factory.mktemp("tools")
    requests = ownlocks.tool_files()
    settings = wheelhouse.index_settings(project_load(REPO / "fixtures" / "hello-wsgi"))
    fetch(requests.values(), settings=settings, cache=Cache.default(), dest=folder)
    manifest = {str(name): [entry(folder / r.filename)] for name, r in requests.items()}
    (folder / "tools.json").write_text(json.dumps(manifest))
    return folder


def install_args(tmp_path: Path, tools: Path, *manifests: str) -> list[str | Path]:
    return [
        "install", "--venv", tmp_path / "venv", "--wheelhouse", tmp_path / "wh",
        "--tools", tools, "--python-version", VERSION, *manifests,
    ]  # fmt: skip


@pytest.mark.network
def test_a_foreign_platform_wheel_is_placed_into_the_venv(tmp_path: Path, tools: Path) -> None:
    house = tmp_path / "wh"
    house.mkdir()
    wheel = make_wheel(house)
    (house / "install.json").write_text(json.dumps({"wheels": [entry(wheel)], "pending": []}))
    result = run(*install_args(tmp_path, tools, "install.json"))
    assert result.returncode == 0, result.stderr
    assert f"installed {wheel.name}" in result.stdout
    venv = tmp_path / "venv"
    site = venv / "lib" / f"python{VERSION}" / "site-packages"
    assert (site / "hello_pkg" / "__init__.py").read_text().startswith("def main")
    assert (site / "hello_pkg" / "_native.cpython-311-aarch64-linux-gnu.so").exists()
    # The console script runs the venv's Python, wherever that venv then runs.
    script = (venv / "bin" / "hello").read_text()
    assert script.splitlines()[0] == f"#!{venv}/bin/python"
    assert (site / "hello_pkg-1.0.dist-info" / "INSTALLER").read_text() == "containerize\n"
    assert "hello_pkg/__init__.py,sha256=" in (site / "hello_pkg-1.0.dist-info/RECORD").read_text()
    assert not list(site.rglob("*.pyc"))  # bytecode is compileall's job, afterwards


@pytest.mark.network
def test_pip_comes_from_the_tools_with_the_build_requirements(tmp_path: Path, tools: Path) -> None:
    (tmp_path / "wh").mkdir()
    (tmp_path / "wh" / "build-env.json").write_text(json.dumps({"wheels": []}))
    result = run(*install_args(tmp_path, tools, "--with", "pip", "build-env.json"))
    assert result.returncode == 0, result.stderr
    site = tmp_path / "venv" / "lib" / f"python{VERSION}" / "site-packages"
    assert (site / "pip" / "__init__.py").exists()
    assert (tmp_path / "venv" / "bin" / "pip").exists()


def test_a_wheel_whose_hash_differs_is_refused_before_anything_is_installed(
    tmp_path: Path,
) -> None:
    house = tmp_path / "wh"
    house.mkdir()
    wheel = make_wheel(house)
    locked = {**entry(wheel), "sha256": "0" * 64}
    (house / "install.json").write_text(json.dumps({"wheels": [locked]}))
    result = run(*install_args(tmp_path, tmp_path / "no-tools", "install.json"))
    assert result.returncode == 1
    assert result.stderr.startswith(f"containerize: error: install.json: {wheel.name} has sha256 ")
    assert f"not {'0' * 64} as locked" in result.stderr
    assert not (tmp_path / "venv").exists()
    assert "Traceback" not in result.stderr


def test_an_sdist_not_compiled_yet_is_refused(tmp_path: Path) -> None:
    house = tmp_path / "wh"
    house.mkdir()
    pending = {"file": "mod_wsgi-6.1.1.tar.gz", "sha256": "1" * 64}
    (house / "install.json").write_text(json.dumps({"wheels": [], "pending": [pending]}))
    result = run(*install_args(tmp_path, tmp_path / "no-tools", "install.json"))
    assert result.returncode == 1
    assert "mod_wsgi-6.1.1.tar.gz not compiled for this platform yet" in result.stderr


def test_another_python_on_the_build_platform_is_refused(tmp_path: Path) -> None:
    args = install_args(tmp_path, tmp_path, "install.json")
    args[args.index("--python-version") + 1] = "2.7"
    result = run(*args)
    assert result.returncode == 1
    assert f"the target platform's Python is 2.7, but the build platform's runs {VERSION}" in (
        result.stderr
    )


def test_an_sdist_that_would_write_outside_its_folder_is_refused(tmp_path: Path) -> None:
    house = tmp_path / "wh"
    house.mkdir()
    sdist = house / "evil-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        data = b"x"
        info = tarfile.TarInfo("evil-1.0/../../escaped")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    (house / "compile.json").write_text(json.dumps({"sdists": [entry(sdist)]}))
    result = run("build", "--wheelhouse", house, "--out", tmp_path / "out", "compile.json")
    assert result.returncode == 1
    assert "'evil-1.0/../../escaped' would be written outside its folder" in result.stderr


SETUP_PY = """\
import os
from setuptools import setup

# What the build saw, kept in the wheel for the test to read.
with open("probe_info.py", "w") as out:
    out.write(f"CWD = {os.getcwd()!r}\\n")
    out.write(f"CFLAGS = {os.environ.get('CFLAGS', '')!r}\\n")
    out.write(f"EPOCH = {os.environ.get('SOURCE_DATE_EPOCH', '')!r}\\n")
setup(name="probe", version="1.0", py_modules=["probe_info"])
"""


def make_sdist(folder: Path) -> Path:
    path = folder / "probe-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in {
            "probe-1.0/setup.py": SETUP_PY,
            "probe-1.0/pyproject.toml": (
                '[build-system]\nrequires = ["setuptools"]\n'
                'build-backend = "setuptools.build_meta"\n'
            ),
            "probe-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: probe\nVersion: 1.0\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.network
def test_an_sdist_builds_offline_from_a_fixed_path_into_the_same_bytes(
    tmp_path: Path, tools: Path
) -> None:
    """The compile build's two steps, as the image runs them: the build env placed
    from the locked build requirements and pip, then the sdist built without network
    or isolation, from a fixed folder, with -ffile-prefix-map and a fixed date."""
    house = tmp_path / "wh"
    house.mkdir()
    (entry_,) = [
        e
        for e in buildlock.read(REPO / "fixtures" / "hello-wsgi" / buildlock.FILE_NAME).values()
        if e.platform == "linux/amd64"
    ]
    requests = [
        FileRequest(name=f.name, version=f.version, filename=f.filename, sha256=f.sha256)
        for f in entry_.files
    ]
    settings = wheelhouse.index_settings(project_load(REPO / "fixtures" / "hello-wsgi"))
    fetch(requests, settings=settings, cache=Cache.default(), dest=house)
    env_manifest = {"wheels": [entry(house / f.filename) for f in entry_.files]}
    (house / "build-env.json").write_text(json.dumps(env_manifest))
    venv = tmp_path / "build-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    installed = run(
        "install", "--venv", venv, "--wheelhouse", house, "--tools", tools,
        "--python-version", VERSION, "--with", "pip", "build-env.json",
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr

    sdist = make_sdist(house)
    (house / "compile.json").write_text(json.dumps({"sdists": [entry(sdist)]}))
    wheels = []
    for attempt in ("one", "two"):
        out = tmp_path / attempt
        built = subprocess.run(
            [
                str(venv / "bin" / "python"), str(SCRIPT), "build", "--wheelhouse", str(house),
                "--out", str(out), "--source-root", str(tmp_path / "src"), "compile.json",
            ],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert built.returncode == 0, built.stdout + built.stderr
        (wheel,) = out.glob("probe-1.0-*.whl")
        wheels.append(wheel.read_bytes())
    with zipfile.ZipFile(io.BytesIO(wheels[0])) as archive:
        info: dict[str, str] = {}
        exec(archive.read("probe_info.py").decode(), info)
        dates = {item.date_time for item in archive.infolist()}
    source = tmp_path / "src" / "probe-1.0.tar.gz" / "probe-1.0"
    assert info["CWD"] == str(source)
    assert f"-ffile-prefix-map={source}=." in info["CFLAGS"]
    assert info["EPOCH"] == "315532800"
    assert dates == {(1980, 1, 1, 0, 0, 0)}
    assert wheels[0] == wheels[1]  # the same sdist, built twice: the same bytes


@pytest.mark.network
def test_one_layers_packages_go_into_its_staging_root_compiled_with_fixed_times(
    tmp_path: Path, tools: Path
) -> None:
    """--root, --compile: the files of one layer, under the staging root, as the venv's
    own (RECORD, the script's #!, the pycs' source paths), with one timestamp."""
    house = tmp_path / "wh"
    house.mkdir()
    wheel = make_wheel(house, tag="py3-none-any")
    (house / "install.json").write_text(json.dumps({"wheels": [entry(wheel)], "pending": []}))
    (house / "none.json").write_text(json.dumps({"wheels": [], "pending": []}))
    root = tmp_path / "layer"
    args = install_args(tmp_path, tools, "install.json")
    args[args.index("--venv") + 1] = "/opt/venv"
    layer = [*args[:-1], "--root", root, "--compile", "install.json"]
    result = run(*layer)
    assert result.returncode == 0, result.stderr
    site = root / "opt" / "venv" / "lib" / f"python{VERSION}" / "site-packages"
    assert (site / "hello_pkg" / "__init__.py").exists()
    assert (root / "opt/venv/bin/hello").read_text().splitlines()[0] == "#!/opt/venv/bin/python"
    record = (site / "hello_pkg-1.0.dist-info" / "RECORD").read_text()
    assert "../../../bin/hello,sha256=" in record  # relative: right once stacked on the venv
    (pyc,) = (site / "hello_pkg" / "__pycache__").glob("__init__.*.pyc")
    assert f"/opt/venv/lib/python{VERSION}/site-packages/hello_pkg/__init__.py".encode() in (
        pyc.read_bytes()
    )
    everything = [root, *root.rglob("*")]
    assert {p.lstat().st_mtime for p in everything} == {315532800}
    assert not (tmp_path / "venv").exists()
    assert not Path("/opt/venv/bin/hello").exists()
    # A layer none of whose packages this platform has: an empty root, still dated.
    other = tmp_path / "other"
    result = run(*[*args[:-1], "--root", other, "--compile", "none.json"])
    assert result.returncode == 0, result.stderr
    assert list(other.iterdir()) == []
    assert other.stat().st_mtime == 315532800
