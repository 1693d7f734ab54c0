"""The server modules: registry, command templates, and what each adds to the image.

The commands really run in the images (the integration tests start every server, ask
it for pages and static files and stop it); here they are checked against the
entrypoint that fills them in, so these tests need neither the servers nor an engine.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from containerize import runtime as runtime_package
from containerize import servers
from containerize.errors import ConfigError
from containerize.runtime import containerize_hosts
from containerize.runtime import containerize_start as start
from containerize.servers import base, mod_wsgi, uwsgi

RUNTIME_DIR = Path(runtime_package.__file__).parent

RUNTIME = servers.Runtime(
    python="/usr/bin/python3",
    python_version=(3, 11),
    venv="/opt/venv",
    app_dir="/app",
    port=8000,
)
STATIC = servers.Runtime(
    python="/usr/bin/python3",
    python_version=(3, 11),
    venv="/opt/venv",
    app_dir="/app",
    port=8000,
    static=servers.StaticMount(url="/static/", root="/app/staticfiles"),
)
VALUES = {
    "workers": 3, "threads": 2, "concurrency": 6, "timeout": 30, "keepalive": 5,
    "grace_period": 8, "max_requests": 1000, "max_requests_jitter": 100,
    "max_requests_delta": 33,
}  # fmt: skip


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
    assert 1 <= server.default_threads <= 16
    command = server.command(RUNTIME)
    assert command[0].startswith(f"{RUNTIME.venv}/bin/")
    assert all(isinstance(arg, str) and "\0" not in arg for arg in command)


@pytest.mark.parametrize("name", servers.names())
def test_the_entry_module_is_the_one_the_command_starts_from(name: str) -> None:
    """The build's import check imports it: for a server run through containerize's
    launcher, the module the launcher imports; for a console script (gunicorn,
    mod_wsgi-express), a module of the server's own package."""
    server = servers.get(name)
    module = server.entry_module
    assert all(part.isidentifier() for part in module.split("."))
    command = server.command(RUNTIME)
    launcher = next((arg for arg in command if arg.endswith("_serve.py")), None)
    if launcher is not None:
        source = (RUNTIME_DIR / launcher.rsplit("/", 1)[1]).read_text()
        package, _, leaf = module.rpartition(".")
        imports = f"from {package} import {leaf}" if package else f"from {module} import"
        assert imports in source
    else:
        assert module.split(".")[0] == server.distribution.replace("-", "_")
        assert command[0].rsplit("/", 1)[1].split("-")[0] == module.split(".")[0]


@pytest.mark.parametrize("name", servers.names())
def test_every_placeholder_is_one_the_entrypoint_fills(name: str) -> None:
    command = servers.get(name).command(STATIC)
    filled = start.server_argv({"argv": list(command)}, VALUES)
    assert not any("{" in arg for arg in filled if not arg.startswith("/app/staticfiles/"))
    # Every server is sized and stopped by the run-time settings; uWSGI's http-socket
    # closes each connection after its response, so it has no keep-alive to set.
    assert "{grace_period}" in command
    assert ("{keepalive}" in command) == (name != "uwsgi")


@pytest.mark.parametrize("name", servers.names())
def test_every_server_loads_containerize_wsgi(name: str) -> None:
    """One entry point serves every application type on every server."""
    command = " ".join(servers.get(name).command(RUNTIME))
    assert "containerize_wsgi" in command or "cheroot_serve.py" in command


def test_gunicorn_command() -> None:
    assert start.server_argv({"argv": list(servers.get("gunicorn").command(RUNTIME))}, VALUES) == [
        "/opt/venv/bin/gunicorn",
        "--bind", "0.0.0.0:8000",
        "--workers", "3",
        "--threads", "2",
        "--timeout", "30",
        "--keep-alive", "5",
        "--graceful-timeout", "8",
        "--max-requests", "1000",
        "--max-requests-jitter", "100",
        "--forwarded-allow-ips", "",
        "--chdir", "/app",
        "--pythonpath", "/opt/containerize",
        "--error-logfile", "-",
        "--worker-tmp-dir", "/dev/shm",
        "containerize_wsgi:application",
    ]  # fmt: skip


def test_uwsgi_stops_gracefully_on_sigterm() -> None:
    command = servers.get("uwsgi").command(RUNTIME)
    hook = command.index("--hook-master-start")
    assert command[hook + 1] == "unix_signal:15 gracefully_kill_them_all"
    assert command[command.index("--worker-reload-mercy") + 1] == "{grace_period}"


def test_uwsgi_maps_static_files_with_far_expiry_for_hashed_names() -> None:
    command = servers.get("uwsgi").command(STATIC)
    assert command[command.index("--static-map") + 1] == "/static=/app/staticfiles"
    regex, seconds = command[command.index("--static-expires") + 1].split(" ")
    assert seconds == "31536000"
    assert regex.startswith("/app/staticfiles/.*")
    assert servers.get("uwsgi").files(STATIC).keys() == {"mime.types"}
    assert servers.get("uwsgi").files(RUNTIME) == {}


def test_uwsgi_mime_types_come_from_python_not_the_host() -> None:
    text = uwsgi.mime_types()
    assert "\ntext/css\tcss\n" in text
    assert "application/javascript\tjs" in text or "text/javascript\tjs" in text
    assert text == uwsgi.mime_types()


def test_mod_wsgi_aliases_static_files_and_caches_hashed_names() -> None:
    command = servers.get("mod_wsgi").command(STATIC)
    alias = command.index("--url-alias")
    assert command[alias + 1 : alias + 3] == ("/static", "/app/staticfiles")
    conf = servers.get("mod_wsgi").files(STATIC)[mod_wsgi.STATIC_CONF]
    assert '<LocationMatch "^/static/.+' in conf
    assert "max-age=31536000, immutable" in conf


def test_mod_wsgi_runs_the_entry_point_as_a_script_on_a_high_port() -> None:
    command = servers.get("mod_wsgi").command(RUNTIME)
    assert command[1:5] == (
        "start-server",
        "/opt/containerize/containerize_wsgi.py",
        "--application-type",
        "script",
    )
    assert command[command.index("--port") + 1] == "8000"
    assert "--user" not in command  # never root, so never a user switch


def test_static_files_go_through_whitenoise_only_where_the_server_has_no_handler() -> None:
    assert servers.roots("gunicorn", static_files=True) == ("gunicorn", "whitenoise")
    assert servers.roots("cheroot", static_files=True) == ("cheroot", "whitenoise")
    assert servers.roots("uwsgi", static_files=True) == ("pyuwsgi",)
    assert servers.roots("mod_wsgi", static_files=True) == ("mod-wsgi",)
    assert servers.roots("gunicorn", static_files=False) == ("gunicorn",)


def test_cheroot_command_runs_the_launcher_with_values_in_argv() -> None:
    filled = start.server_argv({"argv": list(servers.get("cheroot").command(RUNTIME))}, VALUES)
    assert filled == [
        "/opt/venv/bin/python", "/opt/containerize/cheroot_serve.py",
        "8000",
        "6",  # workers x threads, in one process
        "5",
        "8",
    ]  # fmt: skip


def test_cheroot_needs_no_debian_packages() -> None:
    server = servers.get("cheroot")
    assert server.build_packages(RUNTIME) == ()
    assert server.runtime_packages(RUNTIME) == ()


# --- the Host allow-list, checked by the server itself --------------------------------


@pytest.mark.parametrize("name", servers.names())
def test_a_server_that_serves_static_files_checks_host_itself(name: str) -> None:
    """Static files a server maps itself never reach the WSGI entry point's check."""
    server = servers.get(name)
    assert bool(server.host_check(STATIC)) == server.serves_static
    spec = {"allowed_hosts": ["app.example"], "host_check": list(server.host_check(STATIC))}
    argv, regex = start.host_check(spec, ("app.example",))
    assert not any(base.HOSTS_RE in arg for arg in argv)
    assert regex is not None
    assert all("{" not in arg for arg in argv)


def test_the_entrypoint_and_the_servers_agree_on_names() -> None:
    assert start.HOSTS_RE == base.HOSTS_RE_VARIABLE
    assert start._HOSTS_PLACEHOLDER == base.HOSTS_RE


def test_uwsgi_routes_a_foreign_host_to_400_before_the_static_map() -> None:
    check = servers.get("uwsgi").host_check(STATIC)
    assert check == (
        "--route-host", "{allowed_hosts_re} continue:",
        "--route-run", "break:400 Bad Request",
    )  # fmt: skip
    argv, regex = start.host_check({"host_check": list(check)}, ("app.example",))
    assert argv[1] == f"{regex} continue:"
    assert argv[1].count(" ") == 1  # uWSGI splits a route at its first space


def test_mod_wsgi_checks_host_in_a_server_wide_if_section_from_the_environment() -> None:
    server = servers.get("mod_wsgi")
    assert server.host_check(RUNTIME) == ("--include-file", "/opt/containerize/apache-hosts.conf")
    for runtime in (RUNTIME, STATIC):
        conf = server.files(runtime)[mod_wsgi.HOSTS_CONF]
        lines = [line for line in conf.splitlines() if not line.startswith("#")]
        assert lines == [
            # <If> applies in mod_wsgi-express's _default_ virtual host, which does not
            # inherit the main server's RewriteEngine.
            '<If "! %{HTTP_HOST} =~ m#${CONTAINERIZE_ALLOWED_HOSTS_RE}#">',
            "    RewriteEngine On",
            "    RewriteRule ^ - [R=400]",
            "</If>",
        ]
    assert set(server.files(STATIC)) == {mod_wsgi.HOSTS_CONF, mod_wsgi.STATIC_CONF}


def test_the_pattern_fits_inside_apaches_quoted_expression() -> None:
    regex = str(containerize_hosts.pattern(("a-b.example", ".c.example", "[::2]")))
    assert not set('"#/') & set(regex)  # the quotes, the m#...# delimiters


def test_the_pattern_is_pcre_that_python_reads_alike() -> None:
    regex = containerize_hosts.pattern(("app.example",))
    assert regex == (
        r"(?i)^(?:(?:localhost|127\.0\.0\.1|app\.example)\.?|\[::1\])(?::[0-9]+)?(?!\n)$"
    )


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("gunicorn", ["--max-requests", "1000", "--max-requests-jitter", "100"]),
        ("uwsgi", ["--max-requests", "1000", "--max-requests-delta", "33"]),
        ("mod_wsgi", ["--maximum-requests", "1000"]),
    ],
)
def test_servers_that_can_recycle_workers_are_told_to(name: str, arguments: list[str]) -> None:
    filled = start.server_argv({"argv": list(servers.get(name).command(RUNTIME))}, VALUES)
    at = filled.index(arguments[0])
    assert filled[at : at + len(arguments)] == arguments


def test_the_build_says_which_servers_cannot_recycle_as_asked() -> None:
    names = ("gunicorn", "uwsgi", "mod_wsgi", "cheroot")
    assert servers.recycling_notices(names, 0, None) == []
    assert servers.recycling_notices(names, 1000, None) == [
        "notice: mod_wsgi recycles each worker after exactly 1000 requests: it has no "
        "jitter, so workers started together recycle together",
        "notice: cheroot cannot recycle workers: it serves from one process, so "
        "max-requests (1000) does not apply to its image",
    ]
    assert servers.recycling_notices(("mod_wsgi",), 1000, 0) == []
