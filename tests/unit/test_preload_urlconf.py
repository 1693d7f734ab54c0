"""A Django app's URLconf, loaded by the process that preloads the app: what the build's
import check records about it, and what the master does with that at start.

Run for real, as in the image: the runtime files laid out in a folder, the import
check and the server's import of ``containerize_wsgi`` each in a Python of their own.
The unit suite has no Django, so the app folder holds a stand-in for the part of
Django's API that containerize calls (``apps.ready``, ``settings.ROOT_URLCONF``,
``urls.get_resolver().url_patterns``, which imports the URLconf once, and again after
a failure, as Django's cached property does); tests/integration/test_preload_urlconf.py
runs the same with Django itself, in a container.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from containerize import runtime
from containerize.runtime import containerize_preload

DJANGO = {
    "django/__init__.py": (
        "def setup():\n"
        "    import os\n"
        "    from django.apps import apps\n"
        "    from django.conf import settings\n"
        "    settings._load(os.environ['DJANGO_SETTINGS_MODULE'])\n"
        "    apps.ready = True\n"
    ),
    "django/apps.py": "class Apps:\n    ready = False\n\n\napps = Apps()\n",
    "django/conf.py": (
        "import importlib\n\n\n"
        "class Settings:\n"
        "    configured = False\n\n"
        "    def _load(self, name):\n"
        "        self.ROOT_URLCONF = importlib.import_module(name).ROOT_URLCONF\n"
        "        self.configured = True\n\n\n"
        "settings = Settings()\n"
    ),
    "django/urls.py": (
        "import functools, importlib\n"
        "from django.conf import settings\n\n\n"
        "class URLResolver:\n"
        "    def __init__(self, name):\n"
        "        self.urlconf_name = name\n\n"
        "    @functools.cached_property\n"
        "    def url_patterns(self):\n"
        "        return importlib.import_module(self.urlconf_name).urlpatterns\n\n\n"
        "@functools.cache\n"
        "def _get_cached_resolver(name):\n"
        "    return URLResolver(name)\n\n\n"
        "def get_resolver(urlconf=None):\n"
        "    return _get_cached_resolver(urlconf or settings.ROOT_URLCONF)\n"
    ),
}
SITE = (
    "import os\n\nimport django\n\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_settings')\n"
    "django.setup()\n\n\n"
    "def application(environ, start_response):\n"
    "    from django.urls import get_resolver\n\n"
    "    get_resolver().url_patterns  # as Django's first request does\n"
    "    start_response('200 OK', [])\n"
    "    return [b'ok']\n"
)
URLS_CLEAN = "import os\n\nurlpatterns = ['index']\nLOADED_BY = os.getpid()\n"
URLS_SERVICE = (
    "import os\n\n"
    "if not os.environ.get('SERVICE_UP'):\n"
    "    raise ConnectionRefusedError(111, 'Connection refused:\\nthe database at db:5432')\n"
    + URLS_CLEAN
)
URLS_THREAD = (
    "import threading, time\n\n"
    "threading.Thread(target=time.sleep, args=(60,), name='warmer', daemon=True).start()\n"
    + URLS_CLEAN
)
URLS_BROKEN = "from site_settings import nothing_here\n" + URLS_CLEAN


def _laid_out(tmp_path: Path, urls: str, server: str = "gunicorn") -> tuple[Path, Path]:
    """The runtime files in a folder as in the image, server.json naming *server* and a
    Django-like app (the stand-in above) whose URLconf is *urls*: (that folder, the app's)."""
    folder = tmp_path / "opt-containerize"
    folder.mkdir()
    for name, data in runtime.sources().items():
        (folder / name).write_bytes(data)
    app_dir = tmp_path / "app"
    for name, text in {
        **DJANGO,
        "site_app.py": SITE,
        "site_settings.py": "ROOT_URLCONF = 'site_urls'\n",
        "site_urls.py": urls,
    }.items():
        (app_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (app_dir / name).write_text(text)
    server_json = {
        "app": {"kind": "callable", "module": "site_app", "callable": "application"},
        "app_dir": str(app_dir),
        "access_log": "off",
        "server": server,
    }
    (folder / "server.json").write_text(json.dumps(server_json))
    return folder, app_dir


def _check(
    folder: Path, app_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The build's import check, as the build runs it, writing the image's verdict."""
    return subprocess.run(
        [sys.executable, "-I", str(folder / "containerize_wsgi.py"), "--check",
         "--verdict", str(folder / "import-check.json")],
        cwd=app_dir, capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


SERVE = """
import os, sys
sys.argv = {argv!r}
sys.path.insert(0, {folder!r})
import containerize_wsgi  # as the server imports it: the app loads, and what follows
print("at start:", "site_urls" in sys.modules, flush=True)
if os.environ.get("UP_AT_REQUEST"):  # the service the URLconf reaches is up now
    os.environ["SERVICE_UP"] = "1"
out = []
body = containerize_wsgi.application(
    {{"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http",
      "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}},
    lambda status, headers, exc_info=None: out.append(status),
)
print("first request:", out, b"".join(body), sys.modules["site_urls"].LOADED_BY == os.getpid())
"""


def _serve(
    folder: Path, app_dir: Path, argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``containerize_wsgi`` imported as a server with *argv* imports it, then a first
    request: stdout says whether the URLconf was loaded before it."""
    return subprocess.run(
        [sys.executable, "-I", "-c", SERVE.format(argv=argv, folder=str(folder))],
        cwd=app_dir, capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


PRELOADED = ["gunicorn", "--preload", "containerize_wsgi:application"]
LOADED_LINE = (
    "containerize: URLconf: 'site_urls' loaded by the master, which forks the workers with "
    "it loaded (Django loads it at the first request)\n"
)
LEFT = "containerize: URLconf: 'site_urls' left to the first request, as Django does"


# --- the import check's record ------------------------------------------------------


def test_the_check_records_a_urlconf_that_loads_and_the_master_loads_it(tmp_path: Path) -> None:
    folder, app_dir = _laid_out(tmp_path, URLS_CLEAN)
    checked = _check(folder, app_dir)
    assert checked.returncode == 0, checked.stderr
    verdict = json.loads((folder / "import-check.json").read_text())
    assert verdict["clean"] is True
    assert verdict["urlconf"] == {"loaded": True, "found": []}
    served = _serve(folder, app_dir, PRELOADED)
    assert served.returncode == 0, served.stderr
    assert served.stderr == LOADED_LINE
    assert "at start: True" in served.stdout
    assert "first request: ['200 OK'] b'ok'" in served.stdout


def test_a_urlconf_that_needs_a_service_is_left_to_the_first_request(tmp_path: Path) -> None:
    """What the build could not load is not loaded by the master either, even where it
    would load: what it reaches at import would be shared by every worker."""
    folder, app_dir = _laid_out(tmp_path, URLS_SERVICE)
    checked = _check(folder, app_dir)
    assert checked.returncode == 0, checked.stderr
    assert "containerize: warning: its URLconf (ROOT_URLCONF = 'site_urls')" in checked.stderr
    verdict = json.loads((folder / "import-check.json").read_text())
    # The type only: the message may hold what differs from build to build.
    assert verdict["urlconf"] == {"loaded": False, "error": "ConnectionRefusedError"}
    served = _serve(folder, app_dir, PRELOADED, env={"SERVICE_UP": "1"})
    assert served.returncode == 0, served.stderr
    assert served.stderr == (
        f"{LEFT} (the build's import check could not load it: ConnectionRefusedError)\n"
    )
    assert "at start: False" in served.stdout
    # Django loads it at the first request, in the process that serves it.
    assert "first request: ['200 OK'] b'ok' True" in served.stdout


def test_a_urlconf_that_raises_at_start_still_lets_the_server_start(tmp_path: Path) -> None:
    """Loaded by the build, raising in the master (its service is not up yet): one line,
    no traceback, and Django loads it at the first request, as it always did."""
    folder, app_dir = _laid_out(tmp_path, URLS_SERVICE)
    checked = _check(folder, app_dir, env={"SERVICE_UP": "1"})
    assert checked.returncode == 0, checked.stderr
    assert json.loads((folder / "import-check.json").read_text())["urlconf"] == {
        "loaded": True, "found": []
    }  # fmt: skip
    served = _serve(folder, app_dir, PRELOADED, env={"UP_AT_REQUEST": "1"})
    assert served.returncode == 0, served.stderr
    assert served.stderr == (
        f"{LEFT} (loading it in the master raised ConnectionRefusedError: [Errno 111] "
        "Connection refused: the database at db:5432)\n"
    )
    assert "at start: False" in served.stdout
    assert "first request: ['200 OK'] b'ok' True" in served.stdout
    # Still down at the first request: that request meets the error, as it always did.
    down = _serve(folder, app_dir, PRELOADED, env={})
    assert "at start: False" in down.stdout
    start_line, *request = down.stderr.splitlines()
    assert start_line.startswith(f"{LEFT} (loading it in the master raised")
    assert request[0] == "Traceback (most recent call last):"  # the request's own
    assert "ConnectionRefusedError: [Errno 111] Connection refused:" in down.stderr
    assert "first request:" not in down.stdout


def test_a_urlconf_that_leaves_a_thread_running_is_left_to_each_worker(tmp_path: Path) -> None:
    folder, app_dir = _laid_out(tmp_path, URLS_THREAD)
    checked = _check(folder, app_dir)
    assert checked.returncode == 0, checked.stderr
    assert (
        "containerize: loading its URLconf left 1 thread ('warmer') running: a preloading "
        "master leaves it to each worker's first request"
    ) in checked.stderr
    verdict = json.loads((folder / "import-check.json").read_text())
    assert verdict["clean"] is True  # the app's own load: preloaded under "auto"
    assert verdict["urlconf"] == {"loaded": True, "found": ["1 thread ('warmer')"]}
    served = _serve(folder, app_dir, PRELOADED)
    assert served.stderr == (
        f"{LEFT} (loading it in the build's import check left 1 thread ('warmer') running)\n"
    )
    assert "at start: False" in served.stdout


def test_a_urlconf_with_a_code_error_fails_the_check(tmp_path: Path) -> None:
    folder, app_dir = _laid_out(tmp_path, URLS_BROKEN)
    checked = _check(folder, app_dir)
    assert checked.returncode == 1
    assert "failed to load: ImportError: cannot import name 'nothing_here'" in checked.stderr
    assert "every request would fail; fix it" in checked.stderr


# --- who loads it at start ------------------------------------------------------------


def test_without_a_verdict_the_master_leaves_it_to_the_first_request(tmp_path: Path) -> None:
    folder, app_dir = _laid_out(tmp_path, URLS_CLEAN)  # import-check = false: no verdict
    served = _serve(folder, app_dir, PRELOADED)
    assert served.stderr == f"{LEFT} (the image has no import check's verdict on it)\n"
    assert "at start: False" in served.stdout


@pytest.mark.parametrize(
    ("server", "argv"),
    [
        ("gunicorn", ["gunicorn", "--workers", "2", "containerize_wsgi:application"]),
        ("mod_wsgi", ["mod_wsgi-express"]),  # each daemon process loads the app itself
    ],
    ids=["gunicorn-not-preloaded", "mod_wsgi"],
)
def test_a_worker_that_loads_the_app_itself_changes_nothing(
    tmp_path: Path, server: str, argv: list[str]
) -> None:
    folder, app_dir = _laid_out(tmp_path, URLS_CLEAN, server=server)
    assert _check(folder, app_dir).returncode == 0
    served = _serve(folder, app_dir, argv)
    assert served.returncode == 0, served.stderr
    assert served.stderr == ""
    assert "at start: False" in served.stdout
    assert "first request: ['200 OK'] b'ok' True" in served.stdout


def test_cheroots_one_process_loads_it_before_it_serves(tmp_path: Path) -> None:
    folder, app_dir = _laid_out(tmp_path, URLS_CLEAN, server="cheroot")
    assert _check(folder, app_dir).returncode == 0
    served = _serve(folder, app_dir, ["cheroot_serve.py", "8000", "4", "5", "8"])
    assert served.stderr == (
        "containerize: URLconf: 'site_urls' loaded by the server's one process, before it "
        "serves (Django loads it at the first request)\n"
    )
    assert "at start: True" in served.stdout


def test_a_non_django_app_gets_no_line(tmp_path: Path) -> None:
    folder, app_dir = _laid_out(tmp_path, URLS_CLEAN)
    (app_dir / "site_app.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'ok']\n"
    )
    checked = _check(folder, app_dir)
    assert checked.returncode == 0, checked.stderr
    assert "urlconf" not in json.loads((folder / "import-check.json").read_text())
    served = subprocess.run(
        [sys.executable, "-I", "-c",
         f"import sys; sys.argv = {PRELOADED!r}; sys.path.insert(0, {str(folder)!r}); "
         "import containerize_wsgi; print('django' in sys.modules)"],
        cwd=app_dir, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (served.returncode, served.stderr, served.stdout) == (0, "", "False\n")


def test_which_process_loaded_the_app_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = containerize_preload.loads_before_serving
    assert loads("gunicorn", ["gunicorn", "--preload", "x:y"]) == "master"
    assert loads("gunicorn", ["gunicorn", "x:y"]) is None
    assert loads("cheroot", ["cheroot_serve.py"]) == "process"
    assert loads("mod_wsgi", ["--preload"]) is None
    assert loads(None, ["--preload"]) is None
    # uWSGI: its own module tells its master (worker 0) from a worker (--lazy-apps).
    assert loads("uwsgi", []) is None  # not in uWSGI at all
    uwsgi = types.ModuleType("uwsgi")
    monkeypatch.setitem(sys.modules, "uwsgi", uwsgi)
    for worker, said in ((0, "master"), (1, None), (3, None)):
        monkeypatch.setattr(uwsgi, "worker_id", lambda worker=worker: worker, raising=False)
        assert loads("uwsgi", []) == said
