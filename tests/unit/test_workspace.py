"""Targets of a repository with several apps: found, named, configured, and picked
by what changed since a git ref; and the key that tells an unchanged image."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from containerize import config, workspace
from containerize.engine.buildx import BuildInvocation, Output
from containerize.errors import ConfigError
from containerize.image import buildkey
from containerize.image.bake import bake_file, secret_variables
from containerize.matrix.plan import plan_matrix

REPO = Path(__file__).resolve().parents[2]
MONOREPO = REPO / "fixtures" / "monorepo"


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    root = tmp_path / "monorepo"
    shutil.copytree(MONOREPO, root, ignore=shutil.ignore_patterns(".containerize", "__pycache__"))
    return root


def _git(root: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "PATH": "/usr/bin:/bin", "HOME": str(root),
    }  # fmt: skip
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_folders_with_their_own_table_are_targets(monorepo: Path) -> None:
    found = workspace.find(monorepo)
    assert [(t.name, t.project_dir.relative_to(monorepo).as_posix()) for t in found] == [
        ("api", "services/api"),
        ("web", "services/web"),
    ]
    # A folder with its own app is one project, whatever is below it.
    assert workspace.find(monorepo / "services" / "web") == ()
    assert workspace.select(found, ["web"]) == (found[1],)
    with pytest.raises(ConfigError, match="no target named 'admin'") as info:
        workspace.select(found, ["admin"])
    assert "api, web" in (info.value.hint or "")


def test_entries_of_the_root_table_are_targets(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "app.py").write_text("app = None\n")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "app.py").write_text("app = None\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "duo"\nversion = "2.0"\ndependencies = []\n\n'
        "[tool.containerize]\n"
        'servers = ["gunicorn"]\n\n'
        "[tool.containerize.targets.one]\n"
        'app = "app:app"\napp-directory = "one"\nimage = "registry.invalid/duo/one"\n\n'
        "[tool.containerize.targets.two]\n"
        'app = "app:app"\napp-directory = "two"\nimage = "registry.invalid/duo/two"\n'
        'servers = ["cheroot"]\n'
    )
    one, two = workspace.find(tmp_path)
    assert (one.name, two.name) == ("one", "two")
    first, second = workspace.load(one), workspace.load(two)
    assert (first.image, first.servers, str(first.app_directory)) == (
        "registry.invalid/duo/one", ("gunicorn",), "one",
    )  # fmt: skip
    assert (second.image, second.servers) == ("registry.invalid/duo/two", ("cheroot",))
    # Each builds in a folder of its own.
    assert first.build_dir != second.build_dir


def test_an_entry_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "duo"\nversion = "1"\ndependencies = []\n'
        '[tool.containerize]\napp = "app:app"\n'
        '[tool.containerize.targets.one]\nimgae = "x"\n'
    )
    (tmp_path / "app.py").write_text("app = None\n")
    with pytest.raises(ConfigError, match=r"targets\.one: unknown key 'imgae'") as info:
        config.load(tmp_path)
    assert "image" in (info.value.hint or "")


def test_two_targets_of_one_name_are_refused(monorepo: Path) -> None:
    shutil.copytree(monorepo / "services" / "web", monorepo / "more" / "web")
    with pytest.raises(ConfigError, match="two targets are named 'web'"):
        workspace.find(monorepo)


def test_changed_since_picks_the_touched_service_and_the_users_of_a_library(
    monorepo: Path,
) -> None:
    _git(monorepo, "init", "-q", "-b", "main")
    _git(monorepo, "add", "-A")
    _git(monorepo, "commit", "-q", "-m", "start")
    targets = workspace.find(monorepo)
    configs = {t.name: workspace.load(t) for t in targets}

    def picked() -> list[str]:
        return [t.name for t in workspace.changed_since(targets, configs, "HEAD", monorepo)]

    assert picked() == []
    (monorepo / "services" / "web" / "web" / "__init__.py").write_text("app = None\n")
    assert picked() == ["web"]
    _git(monorepo, "commit", "-qam", "web")
    (monorepo / "libs" / "shared" / "src" / "shared" / "extra.py").write_text("X = 1\n")
    assert picked() == ["api", "web"]  # a new file of the library both install
    with pytest.raises(ConfigError, match="git cannot compare with 'no-such-ref'"):
        workspace.changed_since(targets, configs, "no-such-ref", monorepo)


def test_the_key_follows_the_inputs_and_ignores_the_build_time(monorepo: Path) -> None:
    from containerize.image import pipeline  # noqa: PLC0415
    from containerize.resolve.cache import Cache  # noqa: PLC0415

    cfg = workspace.load(workspace.find(monorepo)[1])
    machine = pipeline.Machine(
        cache=Cache(root=monorepo / "cache"), native_arch="amd64", engine=False
    )

    def key() -> str:
        prepared = pipeline.prepare(cfg, machine, output="push", dry_run=True)
        return prepared.keys["gunicorn"]

    first = key()
    assert key() == first  # another build time, the same key
    (monorepo / "services" / "web" / "web" / "__init__.py").write_text("app = 1\n")
    second = key()
    assert second != first
    (monorepo / "libs" / "shared" / "src" / "shared" / "cli.py").write_text("print(1)\n")
    assert key() != second


def test_the_key_label_goes_on_every_image(monorepo: Path) -> None:
    from containerize.image import pipeline  # noqa: PLC0415
    from containerize.resolve.cache import Cache  # noqa: PLC0415

    cfg = workspace.load(workspace.find(monorepo)[0])
    machine = pipeline.Machine(
        cache=Cache(root=monorepo / "cache"), native_arch="amd64", engine=False
    )
    prepared = pipeline.prepare(cfg, machine, output="push", dry_run=True)
    (inv,) = prepared.invocations
    assert (buildkey.KEY_LABEL, prepared.keys["gunicorn"]) in inv.labels
    # A bake file carries it too.
    baked = json.loads(bake_file(prepared.invocations))
    assert baked["target"]["gunicorn"]["labels"] == {buildkey.KEY_LABEL: prepared.keys["gunicorn"]}
    # An image the registry holds with the same key is not built at all.
    seen: list[tuple[str, str]] = []

    def unchanged(tag: str, key: str) -> str | None:
        seen.append((tag, key))
        return "sha256:" + "a" * 64

    skipped = pipeline.prepare(cfg, machine, output="push", dry_run=True, unchanged=unchanged)
    assert skipped.invocations == ()
    assert skipped.unchanged == (("gunicorn", "sha256:" + "a" * 64),)
    assert seen == [(inv.tags[0], prepared.keys["gunicorn"])]


def test_app_digest_covers_names_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("1\n")
    files = [PurePosixPath("a.py")]
    first = buildkey.app_digest(tmp_path, files)
    (tmp_path / "a.py").write_text("2\n")
    assert buildkey.app_digest(tmp_path, files) != first


def test_an_image_made_by_another_containerize_is_not_unchanged(tmp_path: Path) -> None:
    # The runtime files and the Dockerfile's writer are containerize's: a new one makes
    # a different image from the same project, so its key differs.
    package = tmp_path / "containerize"
    (package / "runtime").mkdir(parents=True)
    (package / "runtime" / "start.py").write_text("print('a')\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"1")
    first = buildkey.tool_digest.__wrapped__(package)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"2")
    assert buildkey.tool_digest.__wrapped__(package) == first  # bytecode is not source
    (package / "runtime" / "start.py").write_text("print('b')\n")
    assert buildkey.tool_digest.__wrapped__(package) != first

    def key(tool: str | None) -> str:
        return buildkey.image_key(
            server="gunicorn", base_image="b@sha256:" + "0" * 64, configuration="plan",
            selections=(), app="a", tool=tool,
        )  # fmt: skip

    assert key("x") != key("y")
    # By default, the containerize that runs: its installed package, read once.
    assert key(None) == key(buildkey.tool_digest())


def test_list_shows_each_target(monorepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from containerize import cli  # noqa: PLC0415

    assert cli.main(["--project", str(monorepo), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["target", "app", "servers", "image", "declared", "in"]
    assert lines[1].split() == [
        "api", "api.wsgi:application", "gunicorn",
        "127.0.0.1:5000/containerize-examples/monorepo-api", "services/api/pyproject.toml",
    ]  # fmt: skip
    assert lines[2].split()[:3] == ["web", "web:app", "gunicorn"]
    # A name that is no target: what there is, and a non-zero exit.
    assert cli.main(["--project", str(monorepo), "build", "--dry-run", "admin"]) != 0
    assert "no target named 'admin'" in capsys.readouterr().err


def test_a_bake_of_several_targets_names_each_and_keeps_their_secrets_apart() -> None:
    def inv(project: str) -> BuildInvocation:
        return BuildInvocation(
            context=Path(f"/{project}/context"),
            dockerfile=Path(f"/{project}/context/Dockerfile"),
            target="gunicorn",
            tags=(f"{project}:gunicorn",),
            output=Output(kind="load"),
            secrets=(("test-env", f"export SECRET={project}"),),
        )

    both = [inv("api"), inv("web")]
    with pytest.raises(ConfigError, match="distinct names"):
        bake_file(both)
    document = json.loads(bake_file(both, names=["api-gunicorn", "web-gunicorn"], secrets=True))
    assert document["group"]["default"]["targets"] == ["api-gunicorn", "web-gunicorn"]
    api, web = document["target"]["api-gunicorn"], document["target"]["web-gunicorn"]
    assert (api["tags"], web["tags"]) == (["api:gunicorn"], ["web:gunicorn"])
    assert api["secret"] != web["secret"]
    variables = secret_variables(both)
    for spec, project in ((api, "api"), (web, "web")):
        (secret,) = spec["secret"]
        variable = secret.split("env=", 1)[1]
        assert variables[variable] == f"export SECRET={project}"
    # A bake file for CI writes no secret down.
    assert "secret" not in json.loads(bake_file(both, names=["a", "b"]))["target"]["a"]


def test_nox_and_the_matrix_cover_every_target(monorepo: Path) -> None:
    (monorepo / "noxfile.py").write_text("import containerize.nox\ncontainerize.nox.register()\n")
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "-l"],
        cwd=monorepo,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    cells = [line.split(" -> ")[0] for line in listed.splitlines() if "test_images(" in line]
    assert cells == [
        f"- test_images(target='{target}', server='gunicorn', platform='{platform}')"
        for target in ("api", "web")
        for platform in ("linux/amd64", "linux/arm64")
    ]
    api = workspace.load(workspace.select(workspace.find(monorepo), ["api"])[0])
    cell = plan_matrix(api, native_arch="amd64", target="api").cells[1]
    assert (cell.name, cell.slug) == ("api gunicorn linux/arm64", "api-gunicorn-linux-arm64")
