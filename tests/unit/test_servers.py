"""The server modules: registry, command lines, and cheroot's launcher.

The launcher really runs in the cheroot image (the hello-wsgi integration tests start
it, ask it for ``/`` and stop it); here it is only compiled and checked against the
argv that feeds it, so these tests need neither cheroot nor an engine.
"""

from __future__ import annotations

import ast
import signal

import pytest
from packaging.utils import canonicalize_name

from containerize import servers
from containerize.errors import ConfigError
from containerize.servers import cheroot

APP = servers.App(module="hello.wsgi", callable="application")
RUNTIME = servers.Runtime(
    python="/usr/bin/python3",
    python_version=(3, 11),
    venv="/opt/venv",
    app_dir="/app",
    port=8000,
    workers=3,
)


def test_registry_has_the_four_servers() -> None:
    assert servers.names() == ("cheroot", "gunicorn", "mod_wsgi", "uwsgi")
    assert all(servers.get(name).name == name for name in servers.names())


def test_unknown_server_names_the_closest() -> None:
    with pytest.raises(ConfigError, match="unknown server 'cherot'") as info:
        servers.get("cherot", where="[tool.containerize] servers[0]")
    assert info.value.hint is not None
    assert info.value.hint.startswith("did you mean 'cheroot'?")


@pytest.mark.parametrize("name", servers.names())
def test_protocol_values_are_well_formed(name: str) -> None:
    server = servers.get(name)
    assert server.distribution == canonicalize_name(server.distribution)
    assert signal.Signals[server.stop_signal]
    command = server.command(APP, RUNTIME)
    assert command[0].startswith(f"{RUNTIME.venv}/bin/")
    assert all(isinstance(arg, str) and "\0" not in arg for arg in command)


def test_gunicorn_command() -> None:
    assert servers.get("gunicorn").command(APP, RUNTIME) == (
        "/opt/venv/bin/gunicorn",
        "--bind", "0.0.0.0:8000",
        "--workers", "3",
        "--chdir", "/app",
        "--access-logfile", "-",
        "--worker-tmp-dir", "/dev/shm",
        "hello.wsgi:application",
    )  # fmt: skip


def test_uwsgi_command() -> None:
    assert servers.get("uwsgi").command(APP, RUNTIME) == (
        "/opt/venv/bin/uwsgi",
        "--http-socket", "0.0.0.0:8000",
        "--master",
        "--processes", "3",
        "--chdir", "/app",
        "--module", "hello.wsgi:application",
        "--need-app",
        "--die-on-term",
        "--strict",
        "--vacuum",
    )  # fmt: skip


def test_mod_wsgi_command() -> None:
    assert servers.get("mod_wsgi").command(APP, RUNTIME) == (
        "/opt/venv/bin/mod_wsgi-express", "start-server",
        "--port", "8000",
        "--processes", "3",
        "--threads", "4",
        "--server-root", "/tmp/mod_wsgi-express",
        "--locale", "C.UTF-8",
        "--log-to-terminal",
        "--access-log",
        "--startup-log",
        "--working-directory", "/app",
        "--application-type", "module",
        "--callable-object", "application",
        "hello.wsgi",
    )  # fmt: skip


def test_cheroot_command_runs_the_launcher_with_values_in_argv() -> None:
    assert servers.get("cheroot").command(APP, RUNTIME) == (
        "/opt/venv/bin/python", "-c", cheroot.LAUNCHER,
        "hello.wsgi", "application", "/app",
        "8000",
        "12",  # three workers, four threads each
        "8",
    )  # fmt: skip


def test_cheroot_needs_no_debian_packages() -> None:
    server = servers.get("cheroot")
    assert server.distribution == "cheroot"
    assert server.stop_signal == "SIGTERM"
    assert server.build_packages(RUNTIME) == ()
    assert server.runtime_packages(RUNTIME) == ()


def test_cheroot_launcher_compiles_and_takes_the_whole_argv() -> None:
    code = compile(cheroot.LAUNCHER, "<cheroot launcher>", "exec", flags=ast.PyCF_ONLY_AST)
    assert isinstance(code, ast.Module)
    compile(code, "<cheroot launcher>", "exec")
    # The one statement that reads argv unpacks exactly what command() passes after -c.
    (unpack,) = [
        node
        for node in ast.walk(code)
        if isinstance(node, ast.Assign) and "sys.argv" in ast.unparse(node.value)
    ]
    assert ast.unparse(unpack.value) == "sys.argv[1:]"
    (targets,) = unpack.targets
    assert isinstance(targets, ast.Tuple)
    argv = servers.get("cheroot").command(APP, RUNTIME)
    assert len(targets.elts) == len(argv[3:])


def test_cheroot_launcher_handles_sigterm_and_sigint() -> None:
    tree = ast.parse(cheroot.LAUNCHER)
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert {"signal.set_wakeup_fd", "signal.signal", "server.stop", "server.prepare"} <= calls
    assert "signal.SIGTERM, signal.SIGINT" in cheroot.LAUNCHER
    assert '("0.0.0.0", int(port))' in cheroot.LAUNCHER
