"""The release plan without an engine: configuration, git state, the dry run, the
cosign command lines, and the command line and Nox session that start a release."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nox.registry
import pytest

import containerize.nox
from containerize import cli, config
from containerize.errors import ConfigError, ReleaseError
from containerize.image import revision
from containerize.release import plan, signing

REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hello(tmp_path: Path, fixtures_dir: Path) -> Path:
    dest = tmp_path / "hello"
    shutil.copytree(
        fixtures_dir / "hello-wsgi",
        dest,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
    )
    return dest


def set_table(project: Path, lines: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.containerize]\n", f"[tool.containerize]\n{lines}")
    pyproject.write_text(text)


def set_version(project: Path, version: str) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('version = "1.0.0"', f'version = "{version}"')
    )


def git(project: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
    return subprocess.run(command, cwd=project, check=True, capture_output=True, text=True).stdout


def test_plan_follows_the_configuration(hello: Path) -> None:
    set_table(hello, 'tag-templates = { cheroot = ["{version}-web", "web"] }\n')
    cfg = config.load(hello, overrides={"servers": ["gunicorn", "cheroot"]}, environ={})
    assert cfg.tag_templates == (("cheroot", ("{version}-web", "web")),)
    release = plan.plan_release(cfg, revision=REVISION, dirty=False)
    assert release.servers == ("gunicorn", "cheroot")
    repo = "127.0.0.1:5000/containerize-examples/hello-wsgi"
    assert release.tags.server("gunicorn").references == tuple(
        f"{repo}:{tag}" for tag in ("1.0.0", "sha-0123456", "1.0", "1", "latest")
    )
    assert release.tags.server("cheroot").references == (f"{repo}:1.0.0-web", f"{repo}:web")
    assert release.layout("cheroot") == cfg.build_dir / "release" / "oci" / "cheroot"
    assert [release.sbom("gunicorn", p).name for p in release.platforms] == [
        "gunicorn-linux-amd64.cdx.json",
        "gunicorn-linux-arm64.cdx.json",
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'tag-templates = { gunicron = ["{version}"] }\n',
            "tag-templates.gunicron: unknown server",
        ),
        ("tag-templates = { gunicorn = 3 }\n", "tag-templates.gunicorn: expected a list"),
        ("tag-templates = { gunicorn = [] }\n", "tag-templates.gunicorn is empty"),
        (
            'tag-templates = { gunicorn = ["{verison}"] }\n',
            r"tag-templates.gunicorn\[0\]: '{verison}' uses the unknown placeholder",
        ),
        ('tag-templates = ["latest"]\n', "tag-templates: expected a table"),
    ],
)
def test_bad_tag_templates_are_refused_when_read(hello: Path, table: str, message: str) -> None:
    set_table(hello, table)
    with pytest.raises(ConfigError, match=message) as info:
        config.load(hello, environ={})
    assert "pyproject.toml: tool.containerize.tag-templates" in str(info.value)


def test_a_poetry_project_without_version_names_the_key(hello: Path) -> None:
    set_version(hello, "")
    cfg = config.load(hello, environ={})
    with pytest.raises(ConfigError, match=r"tool\.poetry\.version"):
        plan.plan_release(cfg, revision=None, dirty=False)


def test_dirty_work_tree(hello: Path) -> None:
    assert revision.dirty(hello) is False  # not a repository
    git(hello, "init", "-q")
    git(hello, "add", "-A")
    git(hello, "commit", "-qm", "init")
    assert revision.dirty(hello) is False
    build_dir = hello / ".containerize"
    (build_dir / "release").mkdir(parents=True)
    (build_dir / "release" / "release.json").write_text("{}")
    assert revision.dirty(hello, ignore=[build_dir]) is False
    assert revision.dirty(hello) is True
    (hello / "hello.py").write_text("changed = True\n")
    assert revision.dirty(hello, ignore=[build_dir]) is True


def dry_run(hello: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["--project", str(hello), "release", "--dry-run", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dry_run_prints_the_plan_per_server_and_platform(
    hello: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(hello, "init", "-q")
    git(hello, "add", "-A")
    git(hello, "commit", "-qm", "init")
    sha = git(hello, "rev-parse", "HEAD").strip()[:7]
    code, out, _ = dry_run(
        hello, "--server", "gunicorn", "--server", "cheroot", "--provenance", capsys=capsys
    )
    assert code == 0
    repo = "127.0.0.1:5000/containerize-examples/hello-wsgi"
    assert f"  immutable  {repo}:sha-{sha}\n" in out
    assert f"  moving     {repo}:latest\n" in out
    assert f"  moving     {repo}:cheroot\n" in out
    assert (
        "  linux/arm64: one manifest of the index; SBOM "
        ".containerize/release/sbom/cheroot-linux-arm64.cdx.json, provenance\n"
    ) in out
    # The test matrix runs on the pushed digests before any tag moves.
    assert "The tests then run against the digests; the tags move only after they pass." in out
    assert "Dry run: nothing was built or pushed." in out
    assert not (hello / ".containerize").exists()


def test_dry_run_of_a_pre_release_moves_nothing(
    hello: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_version(hello, "1.1.0rc1")
    code, out, _ = dry_run(hello, capsys=capsys)
    assert code == 0
    assert "1.1.0rc1 is a pre-release: it gets exact tags only" in out
    assert "  moving  " not in out
    assert "immutable  127.0.0.1:5000/containerize-examples/hello-wsgi:1.1.0rc1-uwsgi" in out


def test_dry_run_refuses_sha_tags_of_a_dirty_tree_unless_forced(
    hello: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(hello, "init", "-q")
    git(hello, "add", "-A")
    git(hello, "commit", "-qm", "init")
    (hello / "hello.py").write_text("changed = True\n")
    code, _, err = dry_run(hello, capsys=capsys)
    assert code == 2
    assert "the work tree has uncommitted changes" in err
    assert "hint: commit (or stash)" in err
    code, out, _ = dry_run(hello, "--force", capsys=capsys)
    assert code == 0
    assert "Warning: the work tree has uncommitted changes" in out


def test_cosign_command_lines() -> None:
    ref = "127.0.0.1:5000/team/app@sha256:" + "a" * 64
    assert signing.sign_argv(ref, key="cosign.key", plain_http=True) == [
        "cosign", "sign", "--yes", "--recursive", "--key", "cosign.key",
        "--tlog-upload=false", "--allow-http-registry", ref,
    ]  # fmt: skip
    assert signing.verify_argv(ref, public_key=Path("cosign.pub"), plain_http=False) == [
        "cosign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", ref,
    ]  # fmt: skip


def test_signing_without_cosign_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    signer = signing.Signer(key=str(tmp_path / "cosign.key"), public_key=tmp_path / "pub")
    with pytest.raises(ReleaseError, match="'cosign' is not on PATH") as info:
        signer.check()
    assert info.value.hint == signing.INSTALL_HINT
    assert info.value.exit_code == 8


def test_nox_registers_a_release_session() -> None:
    before = dict(nox.registry.get())
    try:
        containerize.nox.register(project="fixtures/hello-wsgi", prefix="t-")
        session = nox.registry.get()["t-release"]
        assert "containerize release" in (session.__doc__ or "")
    finally:
        registry = nox.registry._REGISTRY
        registry.clear()
        registry.update(before)
