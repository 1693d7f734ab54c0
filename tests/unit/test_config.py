from __future__ import annotations

from pathlib import Path

import pytest

from containerize import config
from containerize.errors import ConfigError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64


def write(
    tmp_path: Path, table: str, *, project: str = '[project]\nname = "demo"\nversion = "2.0"\n'
) -> Path:
    (tmp_path / "pyproject.toml").write_text(project + "\n[tool.containerize]\n" + table)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, 'app = "demo.wsgi:app"\n'), environ={})
    assert cfg.app.module == "demo.wsgi"
    assert cfg.app.callable == "app"
    assert cfg.name == "demo"
    assert cfg.version == "2.0"
    assert cfg.image == "demo"
    assert cfg.platforms == (LINUX_AMD64, LINUX_ARM64)
    assert cfg.servers == ("gunicorn",)
    assert cfg.port == 8000
    assert cfg.uid == cfg.gid == 10001
    assert cfg.build_dir == tmp_path.resolve() / ".containerize"


def test_poetry_identity_and_callable_default(tmp_path: Path) -> None:
    project = '[tool.poetry]\nname = "hello"\nversion = "1.0.0"\n'
    cfg = config.load(write(tmp_path, 'app = "hello"\n', project=project), environ={})
    assert (cfg.name, cfg.version, str(cfg.app)) == ("hello", "1.0.0", "hello:application")


def test_layering_cli_over_environment_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, 'app = "a:b"\nservers = ["gunicorn"]\nplatforms = ["linux/amd64"]\n')
    env = {"CONTAINERIZE_SERVERS": "uwsgi,mod_wsgi", "CONTAINERIZE_PLATFORMS": "linux/arm64"}
    cfg = config.load(tmp_path, environ=env)
    assert cfg.servers == ("uwsgi", "mod_wsgi")
    assert cfg.platforms == (LINUX_ARM64,)
    cfg = config.load(tmp_path, environ=env, overrides={"servers": ["gunicorn"]})
    assert cfg.servers == ("gunicorn",)


def test_unknown_key_suggests_nearest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'platfroms'") as info:
        config.load(write(tmp_path, 'app = "a:b"\nplatfroms = []\n'), environ={})
    assert info.value.hint == "did you mean 'platforms'?"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('app = "a:b"\nservers = ["gunicron"]\n', r"servers\[0\]: unknown server 'gunicron'"),
        ('app = "a:b"\nplatforms = ["linux/amd64", "arm64"]\n', r"platforms\[1\]: 'arm64'"),
        ('app = "a:b"\nport = 70000\n', "not a TCP port"),
        ('app = "a:b"\nport = "80"\n', "port: expected a TCP port"),
        ('app = "a:b"\nuid = 99999999999\n', "uid: 99999999999 is"),
        ('app = "a:b"\nplatforms = ["linux/amd64", "linux/amd64"]\n', r"platforms\[1\].*already"),
        ('app = "a:b"\nservers = ["uwsgi", "uwsgi"]\n', r"servers\[1\].*already listed"),
        ('app = "a:b"\nsource = "x\\nRUN id"\n', "source: 'x\\\\nRUN id' holds a newline"),
        ('app = "a:b"\nbase-image = "a\\nRUN id"\n', "base-image.*holds a newline"),
        ('app = "a:b"\n[tool.containerize.env]\nX = "1\\nRUN id"\n', r"env\.X.*newline"),
        ('app = "a b"\n', "is not 'module:callable'"),
        ("", "app is missing"),
        ('app = "a:b"\nimage = "Bad Image"\n', "no image reference may contain"),
        ('app = "a:b"\nuid = 0\n', "never runs as root"),
        ('app = "a:b"\nhealthcheck-path = "health"\n', "must start with '/'"),
    ],
)
def test_bad_values(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        config.load(write(tmp_path, table), environ={})
    assert "pyproject.toml" in str(info.value) or "tool.containerize" in str(info.value)


def test_missing_table_and_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no pyproject\.toml"):
        config.load(tmp_path, environ={})
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"no \[tool.containerize\] table") as info:
        config.load(tmp_path, environ={})
    assert info.value.hint is not None
    assert 'app = "myapp.wsgi:application"' in info.value.hint


@pytest.mark.parametrize(
    ("environ", "overrides", "message"),
    [
        ({"CONTAINERIZE_PLATFORMS": "linux/zzz"}, {}, r"^CONTAINERIZE_PLATFORMS\[0\]: 'linux/zzz'"),
        ({"CONTAINERIZE_SERVERS": "gunicorn,gunicorn"}, {}, r"^CONTAINERIZE_SERVERS\[1\]"),
        ({"CONTAINERIZE_IMAGE": "Not An Image"}, {}, r"^CONTAINERIZE_IMAGE: 'Not An Image'"),
        ({}, {"platforms": ["linux/amd64", "linux/amd64"]}, r"^--platform\[1\]: .*already"),
        ({}, {"servers": ["gunicron"]}, r"^--server\[0\]: unknown server 'gunicron'"),
    ],
)
def test_errors_name_the_source_of_the_value(
    tmp_path: Path, environ: dict[str, str], overrides: dict[str, object], message: str
) -> None:
    write(tmp_path, 'app = "a:b"\n')
    with pytest.raises(ConfigError, match=message) as info:
        config.load(tmp_path, environ=environ, overrides=overrides)
    assert "pyproject.toml" not in str(info.value)


def test_not_utf8_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        config.load(tmp_path, environ={})
    assert info.value.hint is not None


def test_pyproject_is_read_once_into_the_config(tmp_path: Path) -> None:
    write(
        tmp_path, 'app = "a:b"\n', project='[project]\nname = "demo"\ndependencies = ["flask>=3"]\n'
    )
    cfg = config.load(tmp_path, environ={})
    assert [str(r) for r in cfg.project.dependencies] == ["flask>=3"]
    assert cfg.version == "0"
