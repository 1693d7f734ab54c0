"""Services beside the app, without an engine: their table, and the argv a cell runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from containerize import cli, config, process, testenv
from containerize.engine import docker, probes
from containerize.errors import ConfigError
from containerize.host import baseimage, serviceimage
from containerize.matrix import plan, runner
from containerize.platforms import LINUX_AMD64
from containerize.testsettings import Service

PASSWORD = "pw-$(id)-'q'"

SERVICES = f"""
[tool.containerize.test]
env = {{ SECRET_KEY = "test" }}

[tool.containerize.test.services]
db = {{ image = "postgres:15", port = 5432, env = {{ POSTGRES_PASSWORD = "{PASSWORD}" }}, \
app-env = {{ DATABASE_URL = "postgres://postgres:{PASSWORD}@db:5432/postgres" }}, \
ready = ["pg_isready", "-U", "postgres"] }}
cache = {{ image = "redis", port = 6379, app-env = {{ REDIS_URL = "redis://cache:6379/0" }} }}
"""


def load(tmp_path: Path, tables: str) -> config.Config:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "2.0"\n\n[tool.containerize]\napp = "demo:app"\n'
        + tables
    )
    return config.load(tmp_path, environ={})


def test_services_are_read_in_name_order(tmp_path: Path) -> None:
    cfg = load(tmp_path, SERVICES)
    assert cfg.test.services == (
        Service(
            name="cache",
            image="redis",
            port=6379,
            app_env=(("REDIS_URL", "redis://cache:6379/0"),),
        ),
        Service(
            name="db",
            image="postgres:15",
            port=5432,
            env=(("POSTGRES_PASSWORD", PASSWORD),),
            app_env=(("DATABASE_URL", f"postgres://postgres:{PASSWORD}@db:5432/postgres"),),
            ready=("pg_isready", "-U", "postgres"),
        ),
    )
    assert PASSWORD not in repr(cfg.test.services)


def test_the_app_gets_the_services_variables_under_the_test_env(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        SERVICES.replace(
            'SECRET_KEY = "test"',
            'SECRET_KEY = "test", DATABASE_URL = "postgres://placeholder@localhost/x"',
        ),
    )
    assert testenv.variables(cfg.test) == (
        # The service's own URL over init's placeholder.
        ("DATABASE_URL", f"postgres://postgres:{PASSWORD}@db:5432/postgres"),
        ("REDIS_URL", "redis://cache:6379/0"),
        ("SECRET_KEY", "test"),
    )
    (cell, *_) = plan.plan_matrix(cfg, native_arch="amd64").cells
    assert dict(cell.env)["DATABASE_URL"].endswith("@db:5432/postgres")


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ('db = "postgres"', r"test\.services\.db: expected a table"),
        ("db = { port = 5432 }", r"test\.services\.db: no 'image'"),
        ('db = { image = "postgres" }', r"test\.services\.db: no 'port'"),
        ('db = { image = "Postgres:15", port = 5432 }', r"test\.services\.db\.image"),
        ('db = { image = "postgres", port = 70000 }', r"db\.port: expected a whole number"),
        ('db = { image = "postgres", port = 0 }', r"db\.port: expected a whole number"),
        ('Db_1 = { image = "postgres", port = 1 }', r"'Db_1' cannot be a service name"),
        (
            'db = { image = "postgres", port = 1, env = { "A-B" = "x" } }',
            r"db\.env: 'A-B' is not an environment variable name",
        ),
        ('db = { image = "postgres", port = 1, ready = "pg_isready" }', r"db\.ready: expected"),
        ('db = { image = "postgres", port = 1, imag = "x" }', "did you mean 'image'"),
        (
            'a = { image = "x", port = 1, app-env = { U = "1" } }\n'
            'b = { image = "y", port = 2, app-env = { U = "2" } }',
            "U is in the app-env of both 'a' and 'b'",
        ),
    ],
)
def test_bad_services_say_where(tmp_path: Path, service: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, "[tool.containerize.test.services]\n" + service + "\n")


class FakeEngine:
    """docker's answers for a cell whose services start and then fail their wait."""

    def __init__(self, *, ready: bool) -> None:
        self.ready = ready
        self.calls: list[tuple[str, ...]] = []
        self.envs: list[dict[str, str]] = []

    def run(self, *args: str, **options: object) -> process.Completed:
        self.calls.append(args)
        env = options.get("env")
        if isinstance(env, dict):
            self.envs.append(env)
        out = ""
        code = 0
        if args[0] == "run" and "--detach" in args:
            out = f"id-{len(self.calls)}\n"
        elif args[:2] == ("image", "inspect"):
            out = "sha256:0123\n"
        elif args[:2] == ("inspect", "--format"):
            out = "true\n"
        elif args[0] == "exec" or (args[0] == "run" and "--rm" in args):  # waits
            code = 0 if self.ready else 1
        elif args[0] == "port":
            out = "127.0.0.1:49153\n"
        return process.Completed(argv=("docker", *args), returncode=code, stdout=out, stderr="")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine(ready=False)
    monkeypatch.setattr(docker, "run", engine.run)
    monkeypatch.setattr(probes, "emulator_enabled", lambda arch: True)
    monkeypatch.setattr("containerize.matrix.services._READY_INTERVAL", 0.0)
    return engine


def test_a_service_that_never_gets_ready_fails_the_cell_and_leaves_nothing(
    tmp_path: Path, fake: FakeEngine
) -> None:
    cfg = load(tmp_path, SERVICES.replace("port = 6379,", "port = 6379, ready-timeout = 1,"))
    (cell, *_) = plan.plan_matrix(cfg, native_arch="amd64").cells
    result = runner.run_cell(cell, run_id="r1", project_dir=tmp_path)

    (outcome,) = result.outcomes
    assert (outcome.check, outcome.status) == ("services", "failed")
    assert "service 'cache' did not accept a connection on port 6379 within 1s" in outcome.message
    network = "containerize-r1-gunicorn-linux-amd64"
    assert fake.calls[1] == ("network", "create", "--label", "io.containerize.test-run=r1", network)
    cache_run, db_run = (c for c in fake.calls if c[0] == "run" and "--detach" in c)
    assert cache_run == (
        "run", "--detach", "--label", "io.containerize.test-run=r1", "--pull", "missing",
        "--network", network, "--network-alias", "cache", "redis",
    )  # fmt: skip
    assert db_run[db_run.index("--env") + 1] == "POSTGRES_PASSWORD"
    assert not any(PASSWORD in arg for call in fake.calls for arg in call)
    assert {"POSTGRES_PASSWORD": PASSWORD} in fake.envs
    wait = next(c for c in fake.calls if c[0] == "run" and "--rm" in c)
    assert wait[wait.index("--network") + 1] == network
    assert wait[-3:] == ("cache", "6379", "1")
    # Nothing of the app was started; both services and the network are gone.
    assert not any("--publish" in c for c in fake.calls)
    removed = fake.calls[-3:]
    assert removed[0][:3] == ("rm", "--force", "--volumes")
    assert removed[1][:3] == ("rm", "--force", "--volumes")
    assert removed[2] == ("network", "rm", network)


def test_a_ready_service_puts_the_app_on_its_network(tmp_path: Path, fake: FakeEngine) -> None:
    fake.ready = True
    cfg = load(tmp_path, SERVICES)
    (cell, *_) = plan.plan_matrix(cfg, native_arch="amd64").cells
    network = "containerize-r2-gunicorn-linux-amd64"
    # The app's start is the last thing this test looks at: make it fail there.
    original = fake.run

    def run(*args: str, **options: object) -> process.Completed:
        if "--publish" in args:
            fake.calls.append(args)
            raise OSError("stop here")
        return original(*args, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(docker, "run", run)
        with pytest.raises(OSError, match="stop here"):
            runner.run_cell(cell, run_id="r2", project_dir=tmp_path)
    exec_call = next(c for c in fake.calls if c[0] == "exec")
    assert exec_call[2:] == ("pg_isready", "-U", "postgres")
    app = next(c for c in fake.calls if "--publish" in c)
    assert app[app.index("--network") + 1] == network
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= {
        app[i + 1] for i, arg in enumerate(app) if arg == "--env"
    }
    # Even an error nobody expected removes the services and the network.
    assert fake.calls[-1] == ("network", "rm", network)


def test_service_image_recipes() -> None:
    postgres = serviceimage.recipe("postgres", platforms=(LINUX_AMD64,))
    assert postgres.ref == "127.0.0.1:5000/containerize/postgres:15-bookworm"
    assert postgres.platforms == (LINUX_AMD64,)
    assert postgres.key != serviceimage.recipe("postgres").key  # platforms make the image
    assert serviceimage.reference("redis") == "127.0.0.1:5000/containerize/redis:7-bookworm"
    ((name, script),) = postgres.files
    assert f"COPY --chmod=755 {name} " in postgres.dockerfile_tail
    subprocess.run(["sh", "-n"], input=script, text=True, check=True)  # it parses
    with pytest.raises(ConfigError, match="no service image 'mysql': containerize builds"):
        serviceimage.recipe("mysql")


def test_the_cli_builds_a_service_image_for_the_platforms_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[baseimage.Recipe] = []

    def ensure(recipe: baseimage.Recipe) -> str:
        seen.append(recipe)
        return recipe.ref

    monkeypatch.setattr(baseimage, "ensure", ensure)
    assert cli.main(["service-image", "redis", "--platform", "linux/amd64"]) == 0
    assert [r.platforms for r in seen] == [(LINUX_AMD64,)]
    assert capsys.readouterr().out == "127.0.0.1:5000/containerize/redis:7-bookworm\n"
