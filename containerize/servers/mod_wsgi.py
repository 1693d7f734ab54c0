"""Apache httpd with mod_wsgi, run by ``mod_wsgi-express`` as the image's user.

``mod-wsgi`` is sdist-only: it is compiled against the image's Apache (``apxs``) and
Python, so the builder needs Apache's development files and a compiler, and the
runtime needs Apache and, for a Debian-packaged Python, its shared ``libpython``.
mod_wsgi-express runs Apache unprivileged on the configured (high) port, with its
server root under /tmp.

The Host allow-list is an ``<If>`` section at server level, in an included file: a
request whose Host does not match gets a mod_rewrite rule that answers 400 before any
handler runs, the static files of ``--url-alias`` included. Not a plain server-wide
rewrite rule: mod_wsgi-express serves every request from a ``_default_`` virtual host,
which does not inherit the main server's ``RewriteEngine``, while ``<If>`` sections
apply to every virtual host; and not its own ``--rewrite-rules``, which apply to the
document root only. The rule only exists for requests that are refused, so it never
replaces the document root's rules that hand requests to mod_wsgi. Apache reads the
pattern from the environment start.py gives it (``${CONTAINERIZE_ALLOWED_HOSTS_RE}``),
so ``WSGI_ALLOWED_HOSTS`` works without writing a file at start.
"""

from __future__ import annotations

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import (
    A_YEAR,
    ENTRY_DIR,
    ENTRY_MODULE,
    HASHED_NAME_RE,
    HOSTS_RE_VARIABLE,
    Preload,
    Recycling,
    Runtime,
    toolchain,
)

STATIC_CONF = "apache-static.conf"
HOSTS_CONF = "apache-hosts.conf"


class ModWSGI:
    name = "mod_wsgi"
    distribution: NormalizedName = canonicalize_name("mod-wsgi")
    # mod_wsgi-express runs mod_wsgi.server's main().
    entry_module = "mod_wsgi.server"
    serves_static = True
    # Apache's graceful stop; mod_wsgi-express passes it on to httpd.
    stop_signal = "SIGWINCH"
    default_threads = 4
    # Memory, as the test matrix's "limits" check reports it (a container of the image
    # under --cpus 1 --memory 256m: 3 workers, RSS and PSS from /proc after a burst of
    # 100 requests 8 at a time; amd64, fixtures/hello-wsgi and fixtures/django-app,
    # Django 5.2, measured 2026-12-07):
    # mod_wsgi 6.1 under Apache 2.4 (event MPM): a daemon process (a worker here) 16.4
    # MiB RSS (9.2 PSS) for hello-wsgi, 42.4 MiB RSS (30.5 PSS) for Django; Apache's
    # parent and its children about 7 MiB each (21.8 MiB with two children). A worker
    # gets 64 MiB; Apache's own processes 32.
    # --maximum-requests restarts a daemon process after that many requests; mod_wsgi
    # has no jitter, so the processes started together recycle together.
    recycling: Recycling = "exact"
    # mod_wsgi-express imports the app (WSGIImportScript) in each daemon process as it
    # starts; the daemons are forked by Apache's parent, which runs no Python.
    preload = Preload(
        cannot="mod_wsgi's daemon processes each load the app as they start: Apache's "
        "parent process, which forks them, runs no Python"
    )
    worker_memory = 64
    memory_reserve = 32
    workers_are_threads = False
    unblocks_stop_signals = False

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ("apache2-dev", *toolchain(runtime))

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        major, minor = runtime.python_version
        packages = ("apache2",)
        return (*packages, f"libpython{major}.{minor}") if runtime.distro_python else packages

    def command(self, runtime: Runtime) -> tuple[str, ...]:
        argv = [
            f"{runtime.venv}/bin/mod_wsgi-express", "start-server",
            f"{ENTRY_DIR}/{ENTRY_MODULE}.py",
            "--application-type", "script",
            "--callable-object", "application",
            "--port", str(runtime.port),
            "--processes", "{workers}",
            "--threads", "{threads}",
            "--request-timeout", "{timeout}",
            "--keep-alive-timeout", "{keepalive}",
            "--shutdown-timeout", "{grace_period}",
            "--maximum-requests", "{max_requests}",
            "--server-root", "/tmp/mod_wsgi-express",
            # Debian's minimal images have no en_US locale, mod_wsgi-express's default.
            "--locale", "C.UTF-8",
            # Apache's error log to stderr; no access log of its own: containerize_wsgi
            # writes it, the same on every server.
            "--log-to-terminal",
            "--startup-log",
            "--working-directory", runtime.app_dir,
        ]  # fmt: skip
        if runtime.static is not None:
            argv += [
                "--url-alias", runtime.static.url.rstrip("/"), runtime.static.root,
                "--include-file", f"{ENTRY_DIR}/{STATIC_CONF}",
            ]  # fmt: skip
        return tuple(argv)

    def host_check(self, runtime: Runtime) -> tuple[str, ...]:
        return ("--include-file", f"{ENTRY_DIR}/{HOSTS_CONF}")

    def files(self, runtime: Runtime) -> dict[str, str]:
        files = {HOSTS_CONF: hosts_conf()}
        if runtime.static is None:
            return files
        url = runtime.static.url
        return {
            **files,
            STATIC_CONF: (
                "# Written by containerize: hashed static file names never change.\n"
                f'<LocationMatch "^{_regex_literal(url)}.+{HASHED_NAME_RE}">\n'
                f'    Header set Cache-Control "public, max-age={A_YEAR}, immutable"\n'
                "</LocationMatch>\n"
            ),
        }


def hosts_conf() -> str:
    """The server-wide rule that answers 400 to a Host the allow-list does not hold."""
    return (
        "# Written by containerize: a request whose Host is not allowed gets 400 before a\n"
        "# static file or the application serves it. start.py sets\n"
        f"# {HOSTS_RE_VARIABLE} from allowed-hosts or WSGI_ALLOWED_HOSTS.\n"
        f'<If "! %{{HTTP_HOST}} =~ m#${{{HOSTS_RE_VARIABLE}}}#">\n'
        "    RewriteEngine On\n"
        "    RewriteRule ^ - [R=400]\n"
        "</If>\n"
    )


def _regex_literal(text: str) -> str:
    """*text* as a regular expression matching itself (URL prefixes are [A-Za-z0-9._~/-])."""
    return "".join("\\" + c if c in ".~-" else c for c in text)


MOD_WSGI = ModWSGI()
