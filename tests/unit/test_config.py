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
        ('app = "a b"\n', "'a b' is not an application"),
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


# --- application types, server settings, static files, hosts ---------------------


@pytest.mark.parametrize(
    ("app", "files", "expected"),
    [
        ("mysite.wsgi:application", {}, ("callable", "mysite.wsgi", "application", None, None)),
        # Django's module name ends in .wsgi: without such a file it is a module.
        ("mysite.wsgi", {}, ("callable", "mysite.wsgi", "application", None, None)),
        ("flaskr:create_app()", {}, ("factory", "flaskr", "create_app", "", None)),
        (
            "flaskr:create_app('prod', debug=False, n=[1, 2])",
            {},
            ("factory", "flaskr", "create_app", "'prod', debug=False, n=[1, 2]", None),
        ),
        ("app.wsgi", {"app.wsgi": ""}, ("script", None, "application", None, "app.wsgi")),
        ("deploy/site.wsgi", {}, ("script", None, "application", None, "deploy/site.wsgi")),
        ("deploy/prod.ini", {}, ("paste", None, None, None, "deploy/prod.ini")),
        ("prod.ini#api", {}, ("paste", None, None, None, "prod.ini")),
    ],
)
def test_application_types(
    tmp_path: Path, app: str, files: dict[str, str], expected: tuple[object, ...]
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    spec = config.load(write(tmp_path, f'app = "{app}"\n'), environ={}).app
    assert (spec.kind, spec.module, spec.callable, spec.args, spec.path) == expected


def test_paste_section_defaults_to_main(tmp_path: Path) -> None:
    assert config.load(write(tmp_path, 'app = "a.ini"\n'), environ={}).app.section == "main"
    assert config.load(write(tmp_path, 'app = "a.ini#api"\n'), environ={}).app.section == "api"


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("flaskr:create_app(os.environ)", "factory argument 'os.environ' is not a literal"),
        ("flaskr:create_app(open('x'))", "is not a literal"),
        ("flaskr:create_app(*args)", "is not a literal"),
        ("flaskr:create_app(", "is not an application"),
        ("flaskr:create_app()()", "is not a call"),
        ("/etc/app.wsgi", "is not a file inside the project"),
        ("../app.wsgi", "is not a file inside the project"),
        ("hello:app#x", "names an app in a Paste Deploy"),
        ("site.wsgi#x", "applies to Paste Deploy .ini files only"),
        ("prod.ini#bad name", "not a Paste Deploy app name"),
        ("hello:", "is not an application"),
        ("1hello:app", "is not an application"),
    ],
)
def test_bad_applications_say_what_is_wrong(tmp_path: Path, app: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        config.load(write(tmp_path, f'app = "{app}"\n'), environ={})
    assert "tool.containerize.app" in str(info.value)


def test_server_settings_defaults_and_values(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, 'app = "a:b"\n'), environ={})
    assert (cfg.workers, cfg.threads, cfg.timeout, cfg.keep_alive, cfg.grace_period) == (
        None, None, 30, 5, 8,
    )  # fmt: skip
    assert cfg.allowed_hosts == ("*",)
    assert cfg.import_check is True
    assert cfg.static is None
    table = (
        'app = "a:b"\nworkers = 4\nthreads = 2\ntimeout = 60\nkeep-alive = 2\n'
        'grace-period = 20\nallowed-hosts = ["App.Example", ".example.org"]\n'
        "import-check = false\n"
        'static = { url = "/assets/", dir = "web/dist", command = ["npm", "run", "build"] }\n'
    )
    cfg = config.load(write(tmp_path, table), environ={})
    assert (cfg.workers, cfg.threads, cfg.timeout, cfg.keep_alive, cfg.grace_period) == (
        4, 2, 60, 2, 20,
    )  # fmt: skip
    assert cfg.allowed_hosts == ("app.example", ".example.org")
    assert cfg.import_check is False
    assert cfg.static == config.StaticFiles(
        url="/assets/", dir="web/dist", command=("npm", "run", "build")
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("workers = 0\n", "workers: 0 is out of range"),
        ("threads = 2000\n", "threads: 2000 is out of range"),
        ('timeout = "30"\n', "timeout: expected seconds"),
        ("grace-period = -1\n", "grace-period: -1 is out of range"),
        ("allowed-hosts = []\n", "allowed-hosts is empty: every request would get 400"),
        ('allowed-hosts = ["example.com:8000"]\n', r"allowed-hosts\[0\]: 'example.com:8000'"),
        ('allowed-hosts = ["http://example.com"]\n', "is not a host name"),
        ('import-check = "no"\n', "import-check: expected true or false"),
        ('static = { url = "static", dir = "s" }\n', "static.url: 'static' is not a URL prefix"),
        ('static = { url = "/static/", dir = "../s" }\n', "static.dir: '../s' is not a folder"),
        ('static = { url = "/static/", dir = "/srv" }\n', "static.dir: '/srv' is not a folder"),
        ('static = { url = "/s/", dir = "s", command = "make" }\n', "static.command: expected"),
        ('static = { url = "/s/", dir = "s", root = "x" }\n', "unknown key 'root'"),
        ('static = { url = "/../", dir = "s" }\n', r"has a '\.' or '\.\.' segment"),
    ],
)
def test_bad_server_settings(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, 'app = "a:b"\n' + table), environ={})


def test_import_check_from_the_environment(tmp_path: Path) -> None:
    project = write(tmp_path, 'app = "a:b"\n')
    environ = {"CONTAINERIZE_IMPORT_CHECK": "0"}
    assert config.load(project, environ=environ).import_check is False
    with pytest.raises(ConfigError, match="CONTAINERIZE_IMPORT_CHECK: expected true or false"):
        config.load(project, environ={"CONTAINERIZE_IMPORT_CHECK": "maybe"})


def test_app_directory_defaults_to_the_project(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, 'app = "demo.wsgi:app"\n'), environ={})
    assert str(cfg.app_directory) == "."
    assert cfg.app_root == tmp_path.resolve()


@pytest.mark.parametrize("given", ["site", "site/", "./site", "site/."])
def test_app_directory_is_a_folder_of_the_project(tmp_path: Path, given: str) -> None:
    (tmp_path / "site").mkdir()
    cfg = config.load(
        write(tmp_path, f'app = "website.wsgi"\napp-directory = "{given}"\n'), environ={}
    )
    assert str(cfg.app_directory) == "site"
    assert cfg.app_root == tmp_path.resolve() / "site"


def test_app_directory_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write(tmp_path, 'app = "shop.app:app"\n')
    cfg = config.load(tmp_path, environ={"CONTAINERIZE_APP_DIRECTORY": "src"})
    assert str(cfg.app_directory) == "src"
    with pytest.raises(ConfigError, match=r"^CONTAINERIZE_APP_DIRECTORY: .*nope does not exist"):
        config.load(tmp_path, environ={"CONTAINERIZE_APP_DIRECTORY": "nope"})


def test_app_paths_are_relative_to_the_app_directory(tmp_path: Path) -> None:
    """'shop.wsgi' is a script file when the app folder holds one, a module otherwise."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "shop.wsgi").write_text("application = None\n")
    write(tmp_path, 'app = "shop.wsgi"\napp-directory = "www"\n')
    cfg = config.load(tmp_path, environ={})
    assert (cfg.app.kind, cfg.app.path) == ("script", "shop.wsgi")
    (tmp_path / "shop.wsgi").write_text("application = None\n")
    write(tmp_path, 'app = "shop.wsgi"\napp-directory = "."\n')
    assert config.load(tmp_path, environ={}).app.kind == "script"
    write(tmp_path, 'app = "shop.wsgi"\napp-directory = "www"\n')
    (tmp_path / "www" / "shop.wsgi").unlink()
    assert config.load(tmp_path, environ={}).app.kind == "callable"


def test_a_symlink_inside_the_project_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "site").symlink_to(tmp_path / "real")
    cfg = config.load(write(tmp_path, 'app = "a:b"\napp-directory = "site"\n'), environ={})
    assert str(cfg.app_directory) == "site"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('".."', r"'\.\.' is not a folder inside the project"),
        ('"site/../.."', r"'site/\.\./\.\.' is not a folder inside the project"),
        ('"/srv/site"', "'/srv/site' is not a folder inside the project"),
        ('"site\\\\app"', "is not a folder inside the project"),
        ('"nope"', "nope does not exist"),
        ('"demo.py"', "demo.py is not a folder"),
        ('""', "app-directory is empty"),
        ("3", "expected the folder the application is imported and run from"),
        ('"out"', "'out' leads to .*outside through a symbolic link, outside the project"),
        ('".containerize/app"', r"inside the build folder \(.*\.containerize\)"),
        ('".containerize"', r"inside the build folder"),
    ],
)
def test_bad_app_directory(tmp_path: Path, value: str, message: str) -> None:
    root = tmp_path / "project"
    (root / ".containerize" / "app").mkdir(parents=True)
    (root / "site").mkdir()
    (root / "demo.py").write_text("")
    (tmp_path / "outside").mkdir()
    (root / "out").symlink_to(tmp_path / "outside")
    write(root, f'app = "a:b"\napp-directory = {value}\n')
    with pytest.raises(ConfigError, match=message) as info:
        config.load(root, environ={})
    assert info.value.message.startswith("pyproject.toml: tool.containerize.app-directory")
    assert info.value.hint or ": expected " in info.value.message  # how to fix it
