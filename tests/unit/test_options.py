"""The declarations of [tool.containerize]'s keys, and what is made from them: the
README's table, the Config record, the command line, and the checks of every table."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from containerize import cli, config, options
from containerize.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"
IDENTITY = '[project]\nname = "demo"\nversion = "2.0"\n'


def write(tmp_path: Path, table: str, *, project: str = IDENTITY) -> Path:
    (tmp_path / "pyproject.toml").write_text(project + "\n[tool.containerize]\n" + table)
    return tmp_path


def load(tmp_path: Path, table: str, *, project: str = IDENTITY) -> config.Config:
    return config.load(write(tmp_path, 'app = "demo:app"\n' + table, project=project), environ={})


def test_readme_table_matches_the_declarations() -> None:
    """The README's table of keys is made from containerize/options.py. With
    CONTAINERIZE_REGEN=1 a changed table is written into the README and the test still
    fails: read the diff, then run the tests again without it."""
    text = README.read_text()
    start, end = text.find(options.README_START), text.find(options.README_END)
    assert 0 <= start < end, f"README.md has no {options.README_START!r} ... table"
    shown = text[start : end + len(options.README_END)]
    made = options.readme_table()
    if shown != made and os.environ.get("CONTAINERIZE_REGEN"):
        README.write_text(text.replace(shown, made))
        pytest.fail("README.md's table of keys was regenerated: review git diff -- README.md")
    assert shown == made, "the keys changed: run with CONTAINERIZE_REGEN=1 and review"


def test_readme_lists_every_key_of_every_table() -> None:
    table = options.readme_table()
    for option in options.OPTIONS:
        assert f"| `{option.key}` |" in table
    for prefix, nested in options.NESTED:
        for option in nested:
            assert f"| `{prefix}{option.key}` |" in table
    assert "| `test.env-file` | string |" in table
    assert "`CONTAINERIZE_PLATFORMS` | `--platform` |" in table


def test_config_fields_are_the_declared_keys() -> None:
    derived = {"project_dir", "project", "name", "version"}
    fields = {field.name for field in dataclasses.fields(config.Config)}
    assert fields == derived | {option.attribute for option in options.OPTIONS}
    assert len({option.key for option in options.OPTIONS}) == len(options.OPTIONS)


def test_every_declared_flag_is_on_its_commands() -> None:
    parser = cli._parser()
    subparsers = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    declared = 0
    for option in options.OPTIONS:
        if option.flag is None:
            continue
        for command, help_text in option.flag.commands:
            sub = subparsers.choices[command]
            (action,) = [a for a in sub._actions if option.flag.name in a.option_strings]
            assert (action.dest, action.metavar, action.help) == (
                option.flag.dest,
                option.flag.metavar,
                help_text,
            )
            declared += 1
    assert declared == 15  # platforms 5, servers 3, builder 3, cache-from 2, cache-to 2


def test_flags_are_overrides_checked_like_the_file(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "hello"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        (fixtures_dir / "hello-wsgi" / "pyproject.toml").read_text()
    )
    code = cli.main(["--project", str(project), "build", "--dry-run", "--cache-to", " "])
    assert code == 2
    assert "--cache-to[0] is empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("table", "where", "hint"),
    [
        ("imgae = 'x'\n", "tool.containerize", "'image'"),
        ("static = { url = '/s/', dri = 's' }\n", "tool.containerize.static", "'dir'"),
        ("[tool.containerize.test]\nslowpath = '/'\n", "tool.containerize.test", "'slow-path'"),
        (
            "[tool.containerize.test]\nburst = { request = 1 }\n",
            "tool.containerize.test.burst",
            "'requests'",
        ),
        (
            "[[tool.containerize.test.probes]]\npath = '/'\nstatsu = 200\n",
            r"tool.containerize.test.probes[0]",
            "'status'",
        ),
        ("[tool.containerize.test]\nenv_file = '.env'\n", "tool.containerize.test", "'env-file'"),
        (
            "[tool.containerize.system-packages]\nrun = []\nbiuld = []\n",
            "tool.containerize.system-packages",
            "'build'",
        ),
        (
            "[tool.containerize.system-packages.sdists]\npsycopg2 = { bulid = [] }\n",
            "tool.containerize.system-packages.sdists.psycopg2",
            "'build'",
        ),
    ],
)
def test_unknown_keys_in_every_table_suggest_the_nearest(
    tmp_path: Path, table: str, where: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, table)
    assert str(info.value).startswith(f"pyproject.toml: {where}: unknown key ")
    assert info.value.hint == f"did you mean {hint}?"


def test_an_unknown_tag_template_server_suggests_the_nearest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tag-templates\.gunicron: unknown server") as info:
        load(tmp_path, "tag-templates = { gunicron = ['{version}'] }\n")
    assert info.value.hint is not None
    assert "did you mean 'gunicorn'?" in info.value.hint


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/health check", "holds a space, which a URL path cannot"),
        ("/health\tcheck", "holds (the character '\\\\t'|a newline or another control)"),
        ("/h\u0085", "holds (the character|a newline or another control)"),
        ("health", "is not a URL path: it must start with '/'"),
        ("@evil.example/", "is not a URL path: it must start with '/'"),
    ],
)
def test_url_paths_refuse_what_a_request_line_cannot_carry(
    tmp_path: Path, path: str, message: str
) -> None:
    escaped = json.dumps(path)[1:-1]
    for table, where in [
        (f'healthcheck-path = "{escaped}"\n', "tool.containerize.healthcheck-path"),
        (f'[tool.containerize.test]\nslow-path = "{escaped}"\n', "test.slow-path"),
        (f'[[tool.containerize.test.probes]]\npath = "{escaped}"\n', "probes[0].path"),
    ]:
        with pytest.raises(ConfigError, match=message) as info:
            load(tmp_path, table)
        assert where in str(info.value)
        if " " in path:
            assert info.value.hint is not None
            assert "%20" in info.value.hint


def test_url_paths_keep_a_query_and_percent_escapes(tmp_path: Path) -> None:
    cfg = load(tmp_path, 'healthcheck-path = "/health%20check?full=1&x=%2F"\n')
    assert cfg.healthcheck_path == "/health%20check?full=1&x=%2F"
    assert cfg.test.probes[0].path == cfg.healthcheck_path


def test_test_env_and_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env.test").write_text("SECRET_KEY=x\n")
    cfg = load(
        tmp_path,
        '[tool.containerize.test]\nenv = { SECRET_KEY = "s3cret", DATABASE_URL = "sqlite://" }\n'
        'env-file = ".env.test"\n',
    )
    assert cfg.test.env == (("DATABASE_URL", "sqlite://"), ("SECRET_KEY", "s3cret"))
    assert cfg.test.env_file == tmp_path.resolve() / ".env.test"
    assert cfg.env == ()  # never the image's own environment
    plain = load(tmp_path, "")
    assert (plain.test.env, plain.test.env_file) == ((), None)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('env = { "1X" = "a" }', r"test\.env: '1X' is not an environment variable name"),
        ('env = { X = "a\\nb" }', r"test\.env\.X: .* holds a newline"),
        ("env = { X = true }", r"test\.env\.X must be a string or number"),
        ('env = "X=1"', r"test\.env: expected a table"),
        ('env-file = ".env.missing"', r"test\.env-file: .*\.env\.missing does not exist"),
        ('env-file = "/etc/passwd"', r"test\.env-file: '/etc/passwd' is not a file path relative"),
        ('env-file = "sub"', r"test\.env-file: .*sub is not a file"),
        ("env-file = 3", r"test\.env-file: 3 is not a file path"),
    ],
)
def test_bad_test_env(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, f"[tool.containerize.test]\n{table}\n")


def test_lock_is_one_file_or_several(tmp_path: Path) -> None:
    (tmp_path / "requirements").mkdir()
    for name in ("main.txt", "deploy.txt"):
        (tmp_path / "requirements" / name).write_text("")
    (tmp_path / "uv.lock").write_text("")
    one = load(tmp_path, 'lock = "uv.lock"\n')
    assert (one.locks, one.lock) == (
        (tmp_path.resolve() / "uv.lock",),
        tmp_path.resolve() / "uv.lock",
    )
    several = load(tmp_path, 'lock = ["requirements/main.txt", "requirements/deploy.txt"]\n')
    folder = tmp_path.resolve() / "requirements"
    assert several.locks == (folder / "main.txt", folder / "deploy.txt")
    assert several.lock == folder / "main.txt"
    none = load(tmp_path, "")
    assert (none.locks, none.lock) == ((), None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            '["uv.lock", "missing.txt"]',
            r"tool\.containerize\.lock\[1\]: .*missing.txt does not exist",
        ),
        ('"missing.txt"', r"tool\.containerize\.lock: .*missing.txt does not exist"),
        ('["uv.lock", "uv.lock"]', r"lock\[1\]: 'uv.lock' is already listed"),
        ('["uv.lock", 3]', r"lock\[1\]: expected the path of the lock file"),
        ('["uv.lock", ""]', r"lock\[1\] is empty"),
        ("[]", r"tool\.containerize\.lock is empty"),
        ("3", r"tool\.containerize\.lock: expected the path"),
    ],
)
def test_bad_locks_name_the_index(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "uv.lock").write_text("")
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, f"lock = {value}\n")


def test_a_tool_only_pyproject_loads(tmp_path: Path) -> None:
    project = tmp_path / "My_Site.v2"
    project.mkdir()
    tool_only = '[tool.isort]\nprofile = "black"\n'
    cfg = config.load(write(project, 'app = "demo:app"\n', project=tool_only), environ={})
    assert (cfg.name, cfg.image, cfg.version) == ("my-site-v2", "my-site-v2", "0")


def test_the_name_comes_from_project_then_poetry_then_the_folder(tmp_path: Path) -> None:
    project = tmp_path / "Folder Name"
    project.mkdir()
    poetry = '[tool.poetry]\nname = "From_Poetry"\nversion = "1.5"\n'
    both = '[project]\nname = "from-project"\nversion = "2.0"\n' + poetry
    cases = [
        (both, "from-project", "2.0"),
        (poetry, "from-poetry", "1.5"),
        ("", "folder-name", "0"),
    ]
    for identity, name, version in cases:
        cfg = config.load(write(project, 'app = "demo:app"\n', project=identity), environ={})
        assert (cfg.name, cfg.version) == (name, version)


def test_a_folder_name_that_makes_no_name_is_an_error(tmp_path: Path) -> None:
    project = tmp_path / "__"
    project.mkdir()
    with pytest.raises(ConfigError, match="no project name, and the folder's name '__'") as info:
        config.load(write(project, 'app = "demo:app"\n', project=""), environ={})
    assert info.value.hint == "set [project] name, or tool.containerize.image"


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def test_the_version_comes_from_git_when_pyproject_has_none(tmp_path: Path) -> None:
    project = tmp_path / "site"
    project.mkdir()
    write(
        project, 'app = "demo:app"\n', project='[project]\nname = "site"\ndynamic = ["version"]\n'
    )
    git(project, "init", "-q")
    git(project, "add", "pyproject.toml")
    git(project, "commit", "-q", "-m", "first")
    assert config.load(project, environ={}).version == "0"  # no tag yet
    git(project, "tag", "release-candidate")  # not a version: does not count
    assert config.load(project, environ={}).version == "0"
    git(project, "tag", "v1.2.0")
    assert config.load(project, environ={}).version == "1.2.0"
    (project / "x").write_text("")
    git(project, "add", "x")
    git(project, "commit", "-q", "-m", "second")
    assert config.load(project, environ={}).version == "1.2.0"  # the nearest tag
    write(project, 'app = "demo:app"\n', project='[project]\nname = "site"\nversion = "3.0"\n')
    assert config.load(project, environ={}).version == "3.0"  # pyproject's wins
