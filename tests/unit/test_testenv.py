"""The test environment: its configuration, the dotenv dialect, and how the build and
the matrix receive it without writing it anywhere an image keeps."""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from test_dockerfile import make, stage

from containerize import config, testenv
from containerize.engine import buildx, containers, docker
from containerize.errors import ConfigError
from containerize.image import dockerfile, plan
from containerize.platforms import LINUX_AMD64

SECRET = "s3cr3t-value-$(id)-'quoted'-\"double\""


def load(tmp_path: Path, table: str) -> config.Config:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "2.0"\n\n[tool.containerize]\napp = "demo:app"\n'
        "\n[tool.containerize.test]\n" + table
    )
    return config.load(tmp_path, environ={})


def test_the_table_and_the_file_the_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".env.test").write_text(
        textwrap.dedent(
            """\
            # comments and blank lines are skipped

            export DATABASE_URL=postgres://db:5432/app   # a comment after a value
            SECRET_KEY='from the file'
            MESSAGE="two\\nlines \\"quoted\\""
            EMPTY=
            LITERAL='$HOME stays'
            """
        )
    )
    cfg = load(
        tmp_path, 'env = { SECRET_KEY = "placeholder", DEBUG = 1 }\nenv-file = ".env.test"\n'
    )
    assert cfg.test.env == (("DEBUG", "1"), ("SECRET_KEY", "placeholder"))
    assert cfg.test.env_file == tmp_path / ".env.test"
    assert testenv.variables(cfg.test) == (
        ("DATABASE_URL", "postgres://db:5432/app"),
        ("DEBUG", "1"),
        ("EMPTY", ""),
        ("LITERAL", "$HOME stays"),
        ("MESSAGE", 'two\nlines "quoted"'),
        ("SECRET_KEY", "from the file"),
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('env = "SECRET_KEY=x"', r"test\.env: expected a table"),
        ('env = { "1BAD" = "x" }', r"'1BAD' is not an environment variable name"),
        ("env = { DEBUG = true }", r"test\.env\.DEBUG must be a string or number"),
        ('env-file = "/etc/passwd"', "is not a file path relative to pyproject.toml"),
        ('env-file = ".env.missing"', r"\.env\.missing does not exist"),
        ('env-files = ".env"', "unknown key 'env-files'"),
    ],
)
def test_bad_tables_say_where(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, table + "\n")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("JUST_A_NAME", "expected NAME=value"),
        ("BAD-NAME=1", "'BAD-NAME' is not an environment variable name"),
        ("OPEN='never closed", "the value's ' is never closed"),
        ('AFTER="x" y', "text after the quoted value"),
    ],
)
def test_bad_dotenv_lines_name_the_file_and_line(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^\.env\.test:3: {message}"):
        testenv.parse_dotenv(f"# x\nOK=1\n{line}\n", where=".env.test")


def test_the_secret_is_sourced_by_sh_and_nothing_in_it_runs(tmp_path: Path) -> None:
    found = (("MULTI", "a\nb"), ("SECRET_KEY", SECRET), ("SPACES", "  x  "))
    secret = tmp_path / "testenv"
    secret.write_text(testenv.shell_text(found))
    shown = subprocess.run(
        ["sh", "-c", f". {secret} && env"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    assert f"SECRET_KEY={SECRET}\n" in shown
    assert "MULTI=a\nb\n" in shown
    assert "SPACES=  x  \n" in shown
    assert "uid=" not in shown  # $(id) was not run


@pytest.fixture
def hello_with_env(fixtures_dir: Path) -> config.Config:
    cfg = config.load(fixtures_dir / "hello-wsgi", environ={})
    return replace(cfg, test=replace(cfg.test, env=(("SECRET_KEY", SECRET),)))


def test_the_import_check_and_static_command_mount_the_secret_and_name_no_value(
    hello_with_env: config.Config,
) -> None:
    text = dockerfile.render(make(hello_with_env))
    assert SECRET not in text
    app = stage(text, "app-gunicorn")
    mount = (
        "    --mount=type=secret,id=testenv,target=/run/containerize/testenv,mode=0444 \\\n"
        "    . /run/containerize/testenv \\\n"
    )
    check = "/opt/venv/bin/python /opt/containerize/containerize_wsgi.py --check"
    assert f"{mount} && {check}" in app
    # The mount is on those steps alone, never in an ENV, a LABEL or a final stage.
    assert text.count("id=testenv") == sum(1 for line in text.splitlines() if "id=testenv" in line)
    for name in hello_with_env.servers:
        assert "testenv" not in stage(text, name)


def test_without_a_test_environment_the_dockerfile_is_as_before(
    hello_with_env: config.Config,
) -> None:
    plain = replace(hello_with_env, test=replace(hello_with_env.test, env=()))
    assert "testenv" not in dockerfile.render(make(plain))


def test_the_secret_reaches_buildx_through_its_environment_only(
    hello_with_env: config.Config, tmp_path: Path
) -> None:
    (inv, *_) = plan.invocations(
        make(hello_with_env),
        context=tmp_path / "ctx",
        wheelhouse=tmp_path / "wh",
        tools=tmp_path / "tools",
        output="load",
        builder=None,
    )
    args = buildx.argv(inv)
    assert "--secret" in args
    assert args[args.index("--secret") + 1] == "id=testenv,env=CONTAINERIZE_SECRET_TESTENV"
    assert not any(SECRET in arg for arg in args)
    assert inv.secrets == (("testenv", testenv.shell_text((("SECRET_KEY", SECRET),))),)
    assert SECRET not in repr(inv)


def test_the_matrix_passes_variables_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[str, ...], dict[str, object]]] = []

    def run(*args: str, **options: object) -> object:
        calls.append((args, options))
        raise RuntimeError("stop here")

    monkeypatch.setattr(docker, "run", run)
    with pytest.raises(RuntimeError):
        containers.start(
            "img", platform=LINUX_AMD64, port=8000, env={"SECRET_KEY": SECRET}, run_id="r"
        )
    ((args, options),) = calls
    assert args[args.index("--env") + 1] == "SECRET_KEY"
    assert not any(SECRET in arg for arg in args)
    assert options["env"] == {"SECRET_KEY": SECRET}
