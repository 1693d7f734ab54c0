"""Every command the CLI tells a person to run next works when run as written.

Each test takes the command out of what containerize printed (``next: '...'``, a
hint's ``run '...'``), splits it as a shell would, and runs it in the project's
folder, where the person would type it. Only what needs no engine is here; the
engine's part (init, then its next command, then a build) is
``tests/integration/test_first_run.py``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
import tomlkit
from simple_index_server import SimpleIndexServer, publish, wheel_bytes
from test_server_build_lock import sdist

from containerize import cli, process
from containerize.commands.machine import in_ci
from containerize.engine import docker, probes
from containerize.image import pins
from containerize.resolve import buildlock
from containerize.resolve.lock import Lock, check_inputs, read_lock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: What init says when no engine answers (these tests run without one).
NOT_VERIFIED = "app: not verified: no engine answered; 'containerize build' checks it"
#: A command in quotes, as containerize prints it: 'containerize build --dry-run'.
QUOTED = re.compile(r"'(containerize [^']*)'")


def quoted_commands(text: str) -> list[str]:
    return QUOTED.findall(text)


def run_as_written(command: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """*command* typed in *folder*: split like a shell, run by containerize's CLI."""
    argv = shlex.split(command)
    assert argv[0] == "containerize", command
    monkeypatch.chdir(folder)
    return cli.main(argv[1:])


def copy_without_table(name: str, dest: Path) -> Path:
    """A copy of ``fixtures/<name>`` as a new user has it: no table, no pins."""
    project = dest / name
    shutil.copytree(
        FIXTURES / name,
        project,
        ignore=shutil.ignore_patterns(
            ".containerize", "containerize.lock", buildlock.FILE_NAME, "__pycache__"
        ),
    )
    pyproject = project / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text())
    del document["tool"]["containerize"]
    pyproject.write_text(document.as_string())
    return project


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit suite runs without an engine, whether or not this machine has one."""
    monkeypatch.setattr(probes, "engine_reachable", lambda: False)
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.parametrize(
    "fixture", ["flask-app", "django-app", "django-subfolder", "paste-app", "hello-py313"]
)
def test_init_then_the_command_it_names(
    fixture: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = copy_without_table(fixture, tmp_path)
    monkeypatch.chdir(project)
    assert cli.main(["init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("next: ")]
    assert line == "next: 'containerize build --dry-run'"
    (command,) = quoted_commands(line)
    assert run_as_written(command, project, monkeypatch) == 0, capsys.readouterr().err
    shown = capsys.readouterr().out
    assert "# Dockerfile" in shown
    assert "# buildx commands" in shown
    # These locks have no sdist of their own: nothing to record.
    assert not (project / buildlock.FILE_NAME).exists()


def test_an_existing_table_names_two_commands_that_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_without_table("flask-app", tmp_path)
    monkeypatch.chdir(project)
    assert cli.main(["init"]) == 0
    capsys.readouterr()
    assert cli.main(["init"]) == 2
    err = capsys.readouterr().err
    named = quoted_commands(err)
    assert named == ["containerize init --dry-run", "containerize init --force"], err
    for command in named:
        assert run_as_written(command, project, monkeypatch) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "next: 'containerize build --dry-run'" in out or "(dry run:" in out


@pytest.fixture
def sdist_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, SimpleIndexServer]:
    """A project whose lock pins an sdist, with a loopback index as pip's only index."""
    server = SimpleIndexServer().__enter__()
    hashes = publish(
        server,
        "native-ext",
        {"native_ext-1.0.tar.gz": sdist("native_ext", "1.0", ("setuptools>=70",))},
    )
    hashes |= publish(
        server, "gunicorn", {"gunicorn-99.0-py3-none-any.whl": wheel_bytes("gunicorn", "99.0")}
    )
    publish(
        server,
        "setuptools",
        {
            f"setuptools-{v}-py3-none-any.whl": wheel_bytes("setuptools", v)
            for v in ("69.0", "81.0")
        },
    )
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}/simple/")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("CONTAINERIZE_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "project"
    project.mkdir()
    base = "127.0.0.1:5000/containerize/python:3.11-bookworm"
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["native-ext"]\n\n[dependency-groups]\nservers = ["gunicorn"]\n\n'
        '[tool.containerize]\napp = "demo:application"\n'
        f'image = "127.0.0.1:5000/demo"\nbase-image = "{base}"\nplatforms = ["linux/amd64"]\n'
    )
    (project / "demo.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n    return [b'demo']\n"
    )
    (project / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "a test"\nrequires-python = ">=3.11"\n\n'
        '[[packages]]\nname = "native-ext"\nversion = "1.0"\ndependencies = []\n'
        'sdist = {name = "native_ext-1.0.tar.gz", hashes = {sha256 = '
        f'"{hashes["native_ext-1.0.tar.gz"]}"}}}}\n\n'
        '[[packages]]\nname = "gunicorn"\nversion = "99.0"\ndependencies = []\n'
        'wheels = [{name = "gunicorn-99.0-py3-none-any.whl", hashes = {sha256 = '
        f'"{hashes["gunicorn-99.0-py3-none-any.whl"]}"}}}}]\n'
    )
    # Built before: the base image's digest is recorded (pinning it needs the engine).
    pins.write(project / "containerize.lock", base, "sha256:" + "a" * 64)
    return project, server


def test_a_missing_build_requirement_names_pin_and_pin_records_it(
    sdist_project: tuple[Path, SimpleIndexServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, server = sdist_project
    try:
        monkeypatch.chdir(project)
        assert cli.main(["wheelhouse"]) != 0
        err = capsys.readouterr().err
        assert "no build requirements recorded for native_ext-1.0.tar.gz" in err
        (command,) = quoted_commands(err)
        assert command == "containerize pin"
        assert run_as_written(command, project, monkeypatch) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "build requirements linux/amd64: recorded: setuptools 81.0" in out
        (entry,) = buildlock.read(project / buildlock.FILE_NAME).values()
        assert [f.filename for f in entry.files] == ["setuptools-81.0-py3-none-any.whl"]
        assert cli.main(["wheelhouse"]) == 0, capsys.readouterr().err
        assert "1 build requirements" in capsys.readouterr().out
    finally:
        server.__exit__(None, None, None)


def test_init_records_the_build_requirements_of_the_locks_sdists(
    sdist_project: tuple[Path, SimpleIndexServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No engine answers here: the Python is the table's python-version."""
    project, server = sdist_project
    try:
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().split("[tool.containerize]")[0])
        (project / "containerize.lock").unlink()
        monkeypatch.chdir(project)
        assert cli.main(["init"]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out.splitlines()
        at = out.index("build requirements linux/amd64: recorded: setuptools 81.0")
        assert out[at:] == [
            "build requirements linux/amd64: recorded: setuptools 81.0",
            "build requirements linux/arm64: recorded: setuptools 81.0",
            f"recorded them in {project / buildlock.FILE_NAME}; commit it",
            NOT_VERIFIED,
            f"wrote [tool.containerize] in {pyproject}",
            "next: 'containerize build --dry-run'",
        ]
        entries = buildlock.read(project / buildlock.FILE_NAME)
        assert sorted(entries) == [
            ("linux/amd64", "3.11", ("setuptools>=70",)),
            ("linux/arm64", "3.11", ("setuptools>=70",)),
        ]
        assert run_as_written("containerize build --dry-run", project, monkeypatch) == 0
    finally:
        server.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("", False), ("0", False),
     ("false", False), ("no", False)],
)  # fmt: skip
def test_ci_is_read_from_the_ci_variable(value: str, expected: bool) -> None:
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False


def test_a_malformed_base_image_pin_names_pin_refresh_which_replaces_it(
    sdist_project: tuple[Path, SimpleIndexServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """'pin --refresh' used to read the pins file first, and stop on the very digest
    it was asked to replace."""
    project, server = sdist_project
    base = "127.0.0.1:5000/containerize/python:3.11-bookworm"
    digest = "sha256:" + "b" * 64
    asked: list[tuple[str, ...]] = []

    def buildx(*args: str, **options: object) -> process.Completed:
        asked.append(args)
        stdout = json.dumps({"digest": digest})
        return process.Completed(
            argv=("docker", "buildx", *args), returncode=0, stdout=stdout, stderr=""
        )

    monkeypatch.setattr(docker, "buildx", buildx)
    try:
        lock = project / "containerize.lock"
        lock.write_text(lock.read_text().replace("sha256:" + "a" * 64, "sha256:short"))
        monkeypatch.chdir(project)
        assert cli.main(["build", "--dry-run"]) != 0
        err = capsys.readouterr().err
        (command,) = quoted_commands(err)
        assert command == "containerize pin --refresh"
        assert run_as_written(command, project, monkeypatch) == 0, capsys.readouterr().err
        assert asked == [("imagetools", "inspect", base, "--format", "{{json .Manifest}}")]
        assert pins.read(lock) == {base: digest}
        assert f"{base}@{digest}" in capsys.readouterr().out
        assert cli.main(["build", "--dry-run"]) == 0
    finally:
        server.__exit__(None, None, None)


def test_init_with_a_lock_out_of_date_writes_its_table_and_says_what_to_run_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_without_table("flask-app", tmp_path)
    pyproject = project / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text())
    document["project"]["dependencies"].append("not-in-the-lock")
    pyproject.write_text(document.as_string())
    monkeypatch.chdir(project)
    assert cli.main(["init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out.splitlines()
    at = out.index(f"wrote [tool.containerize] in {pyproject}")
    note, verdict = out[at - 2 : at]
    last = out[at + 1]
    assert verdict == NOT_VERIFIED
    assert out[at + 2 :] == []
    assert note.startswith(
        "note: the build requirements of the lock's sdists, if it has any, are not recorded: "
        "uv.lock is out of date with pyproject.toml"
    ), note
    assert note.endswith(
        "once that is fixed, 'containerize pin' records them (a build outside CI does too)"
    )
    assert last == "next: 'containerize build --dry-run'"
    assert not (project / buildlock.FILE_NAME).exists()


def test_a_damaged_build_lock_names_what_to_delete_and_what_to_run(
    sdist_project: tuple[Path, SimpleIndexServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, server = sdist_project
    try:
        damaged = project / buildlock.FILE_NAME
        damaged.write_text("[[build-requirements]\n")
        monkeypatch.chdir(project)
        assert cli.main(["wheelhouse"]) != 0
        err = capsys.readouterr().err
        assert f"hint: restore {buildlock.FILE_NAME} from version control, or delete it and " in err
        (command,) = quoted_commands(err)
        damaged.unlink()
        assert run_as_written(command, project, monkeypatch) == 0, capsys.readouterr().err
        assert (
            "build requirements linux/amd64: recorded: setuptools 81.0" in capsys.readouterr().out
        )
        assert cli.main(["wheelhouse"]) == 0, capsys.readouterr().err
    finally:
        server.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("requirements", "step", "inputs"),
    [
        (True, "containerize lock requirements.txt .", ("requirements.txt", "requirements")),
        (False, "containerize lock pyproject.toml .", ("pyproject.toml", "pyproject")),
    ],
)
def test_a_project_paste_deploy_loads_as_an_egg_is_locked_with_dot_as_init_says(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    requirements: bool,
    step: str,
    inputs: tuple[str, str],
) -> None:
    """production.ini says use = egg:Egg-Demo, the project's own name: init names
    'containerize lock requirements.txt .', which locks the project with its
    requirements (a loopback index serves them; uv is the tools lock's own)."""
    from uv import find_uv_bin  # noqa: PLC0415 (the test extra's package)

    from containerize.resolve.locking import uv as uv_mod  # noqa: PLC0415

    project = tmp_path / "egg-demo"
    (project / "eggdemo").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "Egg-Demo"\nversion = "1.2.0"\ndependencies = ["tinydep"]\n\n'
        '[project.entry-points."paste.app_factory"]\nmain = "eggdemo:main"\n\n'
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (project / "eggdemo" / "__init__.py").write_text(
        "def main(global_config, **settings):\n"
        "    def app(environ, start_response):\n"
        "        start_response('200 OK', [])\n        return [b'egg']\n    return app\n"
    )
    (project / "production.ini").write_text("[app:main]\nuse = egg:Egg-Demo\n")
    if requirements:
        (project / "requirements.txt").write_text("tinydep\n")
    with SimpleIndexServer() as server:
        publish(server, "tinydep", {"tinydep-1.0-py3-none-any.whl": wheel_bytes("tinydep", "1.0")})
        for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}/simple/")
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
        monkeypatch.setattr(uv_mod, "ensure_uv", lambda *a, **k: Path(find_uv_bin()))
        monkeypatch.chdir(project)
        assert cli.main(["init"]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert (
            "note: lock: the project itself must be installed in the image: Paste Deploy loads "
            "the app through the installed distribution (use = egg:Egg-Demo) (production.ini:2), "
            "and Egg-Demo is the project's own distribution (pyproject.toml:2)"
        ) in out
        steps = [line for line in out.splitlines() if line.startswith("next: ")]
        assert steps == [f"next: '{step}'", "next: 'containerize build --dry-run'"]
        (command,) = quoted_commands(steps[0])
        assert run_as_written(command, project, monkeypatch) == 0, capsys.readouterr().err
        locked = capsys.readouterr().out
    assert "  egg-demo==1.2.0" in locked
    lock = cli_lock(project)
    assert {str(p.name): p.local for p in lock.packages} == {"egg-demo": ".", "tinydep": None}
    assert [(i.path, i.kind) for i in lock.inputs] == [inputs, (".", "project")]


def cli_lock(project: Path) -> Lock:
    """The pylock.toml 'containerize lock' wrote, as a build reads it."""
    lock = read_lock(project / "pylock.toml")
    check_inputs(lock)
    return lock
