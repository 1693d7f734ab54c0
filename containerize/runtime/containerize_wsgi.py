"""The WSGI application every server in a containerize image loads.

It loads the user's application as ``server.json`` (beside this file) describes it:

``callable``  ``module:name``
``factory``   ``module:name(args)``, called once with literal arguments, as Gunicorn does
``script``    a WSGI script file (``app.wsgi``), run as mod_wsgi runs one
``paste``     a Paste Deploy ini file, through ``paste.deploy.loadapp``

and puts layers in front of it: the trusted proxies' rule (``containerize_proxies.py``),
which sets ``REMOTE_ADDR`` and ``wsgi.url_scheme`` from ``X-Forwarded-For`` and
``X-Forwarded-Proto`` the same way on every server; then, each only when it has
something to do, the access log (``containerize_accesslog.py``: the same line on every
server, whose own access log is off), the Host allow-list, which answers 400 to a
request for a host that is not on the list before anything else sees it; and, when the
image serves static files and the server has no static file handler of its own,
WhiteNoise, for the static URL prefix only.

With ``CONTAINERIZE_ENVIRON_PROBE`` set to a URL path (the test matrix sets it in the
container it runs under limits), a GET of that path answers with what the application
is handed (``REMOTE_ADDR``, ``wsgi.url_scheme``): the matrix checks the trusted-proxies
rule through it on any app. Unset, the layer is not there.

``python containerize_wsgi.py --check [--verdict FILE] [--server-module MODULE
--server DIST]`` loads the application once and reports; the build runs it so that a
missing module or callable fails the build, not the container. With ``--server-module``
it first imports the module the server's command starts from (distribution DIST), in
the same venv: a server that cannot import (gunicorn 20.1 without setuptools, which
provides its ``pkg_resources``) fails the build too. With ``--verdict`` it also
writes what the load left running in the process (threads, Python's or not; sockets;
child processes) to FILE as JSON, which the image keeps: under ``preload = "auto"``
the entrypoint preloads the app in the server's master only when the load left nothing
there that forked workers would share; for a Django app it also records whether the
URLconf loaded and what that left (``urlconf``), which a preloading master then loads
before it forks (containerize_preload.preload_urlconf). With ``--then COMMAND...``
(the last option), once the app loaded and the verdict is written, it runs the
project's static command, a Python script or module, in the same process
(:func:`run_static`): the framework is not loaded twice.

The Host rules are ``containerize_hosts.py``'s, beside this file, which the servers'
own checks share; the proxy rules are ``containerize_proxies.py``'s.

This file runs in the image: standard library only (and WhiteNoise, when the image
installs it), no containerize imports.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "server.json")

if __name__ == "containerize.runtime.containerize_wsgi":  # imported from the package (tests)
    from containerize.runtime import containerize_accesslog as accesslog
    from containerize.runtime import containerize_hosts as hosts
    from containerize.runtime import containerize_preload as preloading
    from containerize.runtime import containerize_proxies as proxies
else:  # in the image, beside this file (mod_wsgi runs it as a script, off sys.path)
    if HERE not in sys.path:
        sys.path.append(HERE)
    import containerize_accesslog as accesslog  # type: ignore[import-not-found,no-redef]
    import containerize_hosts as hosts  # type: ignore[import-not-found,no-redef]
    import containerize_preload as preloading  # type: ignore[import-not-found,no-redef]
    import containerize_proxies as proxies  # type: ignore[import-not-found,no-redef]

# File names with a content hash, as Django's ManifestStaticFilesStorage and bundlers
# write them ("site.3f2a9c1b7e4d.css"): they never change, so they are cached for a year.
HASHED_NAME = re.compile(r"\.[0-9a-f]{8,32}\.[A-Za-z0-9]+$")

WSGIApp = Callable[..., Iterable[bytes]]


class LoadError(Exception):
    """The application could not be loaded as configured."""


def load_spec(path: str = SPEC) -> dict[str, Any]:
    with open(path, encoding="utf-8") as file:
        spec: dict[str, Any] = json.load(file)
    return spec


def load_app(app: dict[str, Any], app_dir: str) -> WSGIApp:
    """The user's WSGI callable, loaded from *app_dir* as *app* describes it."""
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    kind = app["kind"]
    if kind in ("callable", "factory"):
        module = importlib.import_module(app["module"])
        try:
            target = getattr(module, app["callable"])
        except AttributeError:
            names = sorted(n for n in vars(module) if not n.startswith("_"))
            raise LoadError(
                f"module {app['module']!r} ({module.__file__}) has no attribute "
                f"{app['callable']!r}; it has: {', '.join(names) or 'nothing public'}"
            ) from None
        if kind == "factory":
            args, kwargs = factory_arguments(app["args"])
            target = target(*args, **kwargs)
    elif kind == "script":
        path = os.path.join(app_dir, app["path"])
        import runpy  # here, as ast and traceback below: a worker imports only what it uses

        namespace = runpy.run_path(path, run_name="_containerize_wsgi_script")
        name = app.get("callable") or "application"
        if name not in namespace:
            raise LoadError(f"the WSGI script {path} defines no {name!r}")
        target = namespace[name]
    elif kind == "paste":
        try:
            from paste.deploy import loadapp  # type: ignore[import-not-found]
        except ImportError:
            raise LoadError(
                "a Paste Deploy ini file needs PasteDeploy: add it to the project's "
                "dependencies and relock"
            ) from None
        path = os.path.join(app_dir, app["path"])
        target = loadapp(f"config:{path}", name=app.get("section") or "main")
    else:
        raise LoadError(f"unknown application type {kind!r}")
    if not callable(target):
        raise LoadError(f"{describe(app)} is a {type(target).__name__}, not a WSGI callable")
    return target  # type: ignore[no-any-return]


def factory_arguments(source: str) -> tuple[list[Any], dict[str, Any]]:
    """The literal arguments of a factory call: ``"'prod', debug=False"``."""
    import ast

    call = ast.parse(f"f({source})", mode="eval").body
    assert isinstance(call, ast.Call)
    args = [ast.literal_eval(arg) for arg in call.args]
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    return args, kwargs


def describe(app: dict[str, Any]) -> str:
    if app["kind"] == "callable":
        return f"{app['module']}:{app['callable']}"
    if app["kind"] == "factory":
        return f"{app['module']}:{app['callable']}({app['args']})"
    return str(app["path"])


# --- the Host allow-list ----------------------------------------------------------


class HostAllowList:
    """Answers 400 to a request whose Host is not allowed, before the app sees it."""

    def __init__(self, app: WSGIApp, entries: tuple[str, ...]) -> None:
        self.app = app
        regex = hosts.pattern(entries)
        self.regex = None if regex is None else re.compile(regex)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST")
        if not hosts.allowed(host, self.regex):
            body = b"Bad Request: this server does not serve the host in the request.\n"
            print(f"containerize: 400 for Host {host!r}", file=sys.stderr, flush=True)
            start_response(
                "400 Bad Request",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self.app(environ, start_response)


# --- behind a proxy ---------------------------------------------------------------


class TrustedProxyLayer:
    """Sets REMOTE_ADDR and wsgi.url_scheme by containerize_proxies' rule."""

    def __init__(self, app: WSGIApp, networks: tuple[proxies.Network, ...]) -> None:
        self.app = app
        self.proxies = proxies.TrustedProxies(networks)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.proxies.apply(environ)
        return self.app(environ, start_response)


# --- static files -----------------------------------------------------------------


class StaticPrefix:
    """Hands a request under the static URL prefix to WhiteNoise, and any other request
    straight to the application: WhiteNoise looks every path up (decoding it first),
    which the application's own pages need not pay for."""

    def __init__(self, app: WSGIApp, files: WSGIApp, prefix: str) -> None:
        self.app = app
        self.files = files
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.files(environ, start_response)
        return self.app(environ, start_response)


# --- the test matrix's probe -------------------------------------------------------

#: A URL path; when set (the test matrix sets it in the containers it starts), a GET of
#: that exact path answers with what the application would have been handed.
PROBE_VARIABLE = "CONTAINERIZE_ENVIRON_PROBE"
PROBED = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTPS", "HTTP_HOST")


class EnvironProbe:
    """Answers GET *path* with the environ keys the trusted-proxies rule decides, as
    the application itself would see them (this layer sits right in front of it), and
    the worker's process id, as JSON. Only there when the variable is set: an image
    started without it has no such path and no cost."""

    def __init__(self, app: WSGIApp, path: str) -> None:
        self.app = app
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        probed = {key: environ.get(key) for key in PROBED}
        body = json.dumps({**probed, "pid": os.getpid()}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


#: Where each process that loaded the application leaves its process id, when the probe
#: is on: the matrix counts the workers by them. A process title ('(wsgi:...)') is not
#: seen in /proc under emulation, nor is a worker told from a master by its command line.
MARKS = "/dev/shm/containerize-app-"  # /dev/shm: a tmpfs of the container's own


def mark_loaded(prefix: str = MARKS) -> None:
    """Mark this process; and, as the app may be preloaded, hand the mark on at a fork:
    a worker forked with the app loaded is marked, the master that forked it is not."""
    _mark(prefix)
    os.register_at_fork(
        after_in_child=lambda: _mark(prefix), after_in_parent=lambda: _unmark(prefix)
    )


def _mark(prefix: str) -> None:
    with contextlib.suppress(OSError):
        os.close(os.open(f"{prefix}{os.getpid()}", os.O_CREAT | os.O_WRONLY, 0o644))


def _unmark(prefix: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(f"{prefix}{os.getpid()}")


# --- assembly ---------------------------------------------------------------------


def build(spec: dict[str, Any], environ: dict[str, str]) -> WSGIApp:
    app = load_app(spec["app"], spec["app_dir"])
    probe = environ.get(PROBE_VARIABLE, "").strip()
    if probe.startswith("/"):
        app = EnvironProbe(app, probe)
        mark_loaded()
    static = spec.get("static")
    if static and static.get("whitenoise"):
        from whitenoise import WhiteNoise  # type: ignore[import-not-found]

        files = WhiteNoise(
            app,
            root=static["root"],
            prefix=static["url"],
            max_age=60,
            immutable_file_test=lambda _path, url: bool(HASHED_NAME.search(url)),
        )
        app = StaticPrefix(app, files, static["url"])
    # Outermost, so that a foreign Host gets 400 before WhiteNoise serves a file.
    entries = hosts.configured(spec.get("allowed_hosts", [hosts.ANY]), environ)
    if hosts.ANY not in entries:
        app = HostAllowList(app, entries)
    # Outside the Host check, so that its 400s are logged too.
    log_format = accesslog.configured(spec.get("access_log", "common"), environ)
    if log_format != "off":
        app = accesslog.AccessLog(app, log_format)
    # Outermost: every layer, and the application, see the client the proxies name. Also
    # without a trusted proxy: uWSGI's http-socket takes X-Forwarded-Proto from anyone.
    networks = proxies.configured(spec.get("trusted_proxies", []), environ)
    return TrustedProxyLayer(app, networks)


def check_server(module: str, distribution: str) -> int:
    """Import *module*, the one the server's command starts from (*distribution*
    provides it), as the server will in the container; 0 when it imports."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # an ImportError, mostly; any failure stops the server
        import traceback

        traceback.print_exc()
        by = ""
        # The innermost import statement: the file that needs what is missing (an import
        # hook's own frames may come after it).
        frames = [
            frame
            for frame in traceback.extract_tb(exc.__traceback__)
            if (frame.line or "").startswith(("import ", "from "))
        ]
        if frames and isinstance(exc, ImportError):
            by = f" (imported by {frames[-1].filename}, line {frames[-1].lineno})"
        print(
            f"\ncontainerize: the server, {distribution} {_version(distribution)}, cannot "
            f"be imported: {exc}{by}\ncontainerize: the container could not start it; "
            f"this is {module!r} in the image's venv",
            file=sys.stderr,
        )
        return 1
    print(
        f"containerize: the server, {distribution} {_version(distribution)}, imports",
        file=sys.stderr,
    )
    return 0


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def check(verdict_path: str | None = None) -> int:
    """Load the application once, as a server would; the build runs this. With
    *verdict_path*, write there what the load left running (containerize_preload)."""
    spec = load_spec()
    before = preloading.running()
    try:
        build(spec, dict(os.environ))
    except Exception as exc:  # every failure to load is reported the same way
        import traceback

        traceback.print_exc()
        print(
            f"\ncontainerize: the application {describe(spec['app'])} failed to load: "
            f"{type(exc).__name__}: {exc}\ncontainerize: fix it, or set "
            "tool.containerize.import-check = false if it cannot load without its services",
            file=sys.stderr,
        )
        return 1
    found = preloading.verdict(before, preloading.running())
    print(f"containerize: {describe(spec['app'])} loads", file=sys.stderr)
    if found["found"]:
        print(
            f"containerize: loading it left {'; '.join(found['found'])} running: the app is "
            'not preloaded before the workers fork under preload = "auto"',
            file=sys.stderr,
        )
    status, urlconf = check_urlconf(spec)
    if urlconf is not None:  # a preloading master loads it when it loaded here, cleanly
        found["urlconf"] = urlconf
    if verdict_path is not None:
        os.makedirs(os.path.dirname(verdict_path), exist_ok=True)
        with open(verdict_path, "w", encoding="utf-8") as file:
            json.dump(found, file, sort_keys=True)
            file.write("\n")
    return status


#: Errors in the code itself: a URLconf that raises one of them fails every request.
#: Anything else (a database the URLconf queries, a service it calls) may be there at
#: run time, where the build has none: a warning.
_CODE_ERRORS = (ImportError, SyntaxError, NameError, AttributeError, TypeError)


def check_urlconf(spec: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """For a Django app, load its URLconf (``ROOT_URLCONF``) and the views it imports, as
    Django does at the first request, after the verdict: loading the app does not, so
    an import error there would pass the check and fail every request of the image.
    The status, and what the load did for the verdict (``loaded``; ``found`` running
    after it, or the ``error``'s type); not Django, or Django not set up: (0, None)."""
    root = preloading.django_urlconf()
    if root is None:
        return 0, None
    before = preloading.running()
    try:
        preloading.load_urlconf()
    except Exception as exc:  # the URLconf's own failure, whatever it raises
        import traceback

        traceback.print_exc()
        where = f"its URLconf (ROOT_URLCONF = {root!r}), which Django loads at the first request"
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, _CODE_ERRORS) or type(exc).__name__ == "ImproperlyConfigured":
            print(
                f"\ncontainerize: the application {describe(spec['app'])} failed to load: "
                f"{error}\ncontainerize: that is {where}: every request would fail; fix it",
                file=sys.stderr,
            )
            return 1, None
        print(
            f"containerize: warning: {where}, could not be loaded here: {error} (at build "
            "time there is no network and no service; each test cell loads it beside its "
            "services)",
            file=sys.stderr,
        )
        # The type only: the image keeps the verdict, the same from the same sources.
        return 0, {"loaded": False, "error": type(exc).__name__}
    found = preloading.verdict(before, preloading.running())["found"]
    if found:
        print(
            f"containerize: loading its URLconf left {'; '.join(found)} running: a "
            "preloading master leaves it to each worker's first request",
            file=sys.stderr,
        )
    return 0, {"loaded": True, "found": found}


#: A Python interpreter as a static command names it (containerize.staticfiles.PYTHON).
PYTHON = re.compile(r"(?:/[^/]+)*/?python(?:3(?:\.[0-9]+)?)?")


def run_static(command: list[str]) -> int:
    """Run the project's static command, a Python script or module (``python manage.py
    collectstatic --noinput``, ``python -m MODULE ...``), in this process, as the
    interpreter would (``sys.argv``, ``sys.path[0]``, ``__main__``); its exit status.

    The build runs it after :func:`check` loaded the app and wrote its verdict: the
    framework the app imported is not loaded a second time."""
    module = len(command) > 2 and command[1] == "-m"
    if (
        len(command) < 2
        or not PYTHON.fullmatch(command[0])
        or (not module and command[1].startswith("-"))
    ):
        print(f"containerize_wsgi.py: --then takes a Python command\n{USAGE}", file=sys.stderr)
        return 2
    import runpy
    import shlex

    print(f"containerize: the static command: {shlex.join(command)}", file=sys.stderr)
    try:
        if module:
            sys.argv = [command[2], *command[3:]]  # argv[0] becomes the module's file
            sys.path.insert(0, os.getcwd())
            runpy.run_module(command[2], run_name="__main__", alter_sys=True)
        else:
            sys.argv = command[1:]
            sys.path.insert(0, os.path.dirname(os.path.abspath(command[1])))
            runpy.run_path(command[1], run_name="__main__")
    except SystemExit as exc:
        status = exc.code
        if status is None or status == 0:
            return 0
        if not isinstance(status, int):
            print(status, file=sys.stderr)
            status = 1
        print(f"containerize: the static command failed (exit status {status})", file=sys.stderr)
        return status
    except Exception as exc:  # the command's own error, reported as Python would
        import traceback

        traceback.print_exc()
        print(
            f"containerize: the static command failed: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


USAGE = (
    "usage: containerize_wsgi.py --check [--verdict FILE] [--server-module MODULE --server DIST]"
    " [--then PYTHON-COMMAND...]"
)


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "--check":
        print(USAGE, file=sys.stderr)
        return 2
    options: dict[str, str] = {}
    rest = argv[1:]
    then: list[str] | None = None
    if "--then" in rest:  # the rest is the static command, run after the check
        at = rest.index("--then")
        rest, then = rest[:at], rest[at + 1 :]
    while rest:
        name = rest[0]
        if name not in ("--verdict", "--server-module", "--server") or len(rest) < 2:
            print(f"containerize_wsgi.py: unexpected {name!r}\n{USAGE}", file=sys.stderr)
            return 2
        options[name] = rest[1]
        rest = rest[2:]
    module, server = options.get("--server-module"), options.get("--server")
    if (module is None) != (server is None):
        print(
            f"containerize_wsgi.py: --server-module and --server go together\n{USAGE}",
            file=sys.stderr,
        )
        return 2
    # The server first: the container starts it before it loads the app.
    if module is not None and server is not None and check_server(module, server):
        return 1
    status = check(options.get("--verdict"))
    if status or then is None:
        return status
    return run_static(then)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
elif __name__ != "containerize.runtime.containerize_wsgi":  # a server loads it (not tests)
    _spec = load_spec()
    try:
        application = build(_spec, dict(os.environ))
    except RuntimeError:
        # Gunicorn's master, preloading the app (run with --preload), prints only
        # "Error: <message>" for a RuntimeError; the traceback says where it came from.
        # Its workers, and the other servers, print the traceback themselves.
        if _spec.get("server") == "gunicorn" and "--preload" in sys.argv:
            import traceback

            traceback.print_exc()
        raise
    # A process that loaded the app before serving (a preloading master) loads a Django
    # app's URLconf too, which Django leaves to each worker's first request.
    if (_process := preloading.loads_before_serving(_spec.get("server"), sys.argv)) is not None:
        _verdict = preloading.read_verdict(os.path.join(HERE, "import-check.json"))
        if (_line := preloading.preload_urlconf(_process, _verdict)) is not None:
            print(f"containerize: {_line}", file=sys.stderr, flush=True)
