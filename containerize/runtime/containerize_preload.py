"""Preloading the app: whether a server loads it once, in its master, and forks its
workers with it loaded, or lets each worker load it.

A server that forks its workers (Gunicorn, uWSGI) can load the app once,
in its master, and fork workers that have it loaded: they answer at once, after one
import instead of one per worker at the same time on the same CPUs, and share its
memory until they write to it. Whatever the import left open is shared too: a thread
(which the workers do not get: only the forking thread survives a fork), a socket or a
database connection (which they would all talk over at once), a child process. So
``auto`` preloads only when the build's import check (``import-check.json`` beside
start.py) saw the import leave no thread, socket or child process running; without
that verdict (``import-check = false``), each worker loads the app. 'on' and 'off'
decide without it. The start line says which, and why.

The build's import check (``containerize_wsgi.py --check --verdict FILE``) takes
:func:`running` before and after the import and writes :func:`verdict`, with the
memory the loaded app holds (``memory_mib``); start.py reads it (:func:`read_verdict`),
:func:`decide` picks the server's arguments from server.json's ``preload_args``, and
the worker count under a memory limit counts the app's memory (start.py).

A Django app loads its URLconf (``ROOT_URLCONF``, and the views it imports) only at
its first request, in each worker: the bench's Django project spent 11-21 ms of its
first request there. The import check loads it too (:func:`load_urlconf`), after the
app's verdict, and records in the verdict (``urlconf``) whether it loaded and what it
left running. A process that loads the app before it serves (a preloading master,
cheroot's one process: :func:`loads_before_serving`) then loads the URLconf as well,
when the build saw it load and leave nothing running (:func:`preload_urlconf`), so
that the workers are forked with it loaded; else, or when it raises at start, Django
loads it at the first request, as it always did. A line on stderr says which.

This file runs in the image: standard library only, no containerize imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

# Not typing's TYPE_CHECKING: importing typing is a few milliseconds of every start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class PreloadError(Exception):
    """A bad ``WSGI_PRELOAD``: one line for the log."""


# --- what a load leaves running ----------------------------------------------------


def running(proc: str = "/proc/self") -> dict[str, Any]:
    """What this process has running besides its main thread: its threads' names
    (``threading``'s, else the kernel's), its sockets' count, its child processes' ids."""
    import threading

    named = {thread.native_id: thread.name for thread in threading.enumerate()}
    main = threading.main_thread().native_id
    tasks = _listdir(f"{proc}/task")
    threads = sorted(
        named.get(int(tid)) or _comm(f"{proc}/task/{tid}") for tid in tasks if int(tid) != main
    )
    sockets = 0
    for fd in _listdir(f"{proc}/fd"):
        with contextlib.suppress(OSError):
            sockets += os.readlink(f"{proc}/fd/{fd}").startswith("socket:")
    children = []
    for tid in tasks:
        with contextlib.suppress(OSError), open(f"{proc}/task/{tid}/children") as file:
            children += [int(pid) for pid in file.read().split()]
    return {
        "threads": threads,
        "sockets": sockets,
        "children": sorted(children),
        "anon_kib": _anonymous_kib(proc),
    }


def _anonymous_kib(proc: str) -> int | None:
    """The process's anonymous resident memory (RssAnon: its heap, the objects the
    imports made), in KiB; None where /proc does not show it."""
    try:
        with open(f"{proc}/status", encoding="ascii", errors="replace") as file:
            for line in file:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


#: The app's memory is recorded in steps of this many MiB: a process's anonymous
#: memory after the same import differs by a few KiB from run to run (Django
#: project, 6 runs: 73,232-73,240 KiB), and the verdict is in the image, which must
#: come out the same from the same sources.
MEMORY_STEP_MIB = 8


def memory_mib(anon_kib: int) -> int:
    """*anon_kib* in MiB, rounded up to a whole step."""
    steps = -(-anon_kib // (MEMORY_STEP_MIB * 1024))
    return max(1, steps) * MEMORY_STEP_MIB


def verdict(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Whether loading the app (from *before* to *after*, :func:`running`) left
    anything running that workers forked from this process would share, and what."""
    found = []
    threads = list(after["threads"])
    for name in before["threads"]:  # the names the process had anyway
        if name in threads:
            threads.remove(name)
    if threads:
        found.append(f"{_count(len(threads), 'thread')} ({', '.join(map(repr, threads))})")
    if (sockets := after["sockets"] - before["sockets"]) > 0:
        found.append(_count(sockets, "open socket"))
    if children := sorted(set(after["children"]) - set(before["children"])):
        found.append(_count(len(children), "child process", "child processes"))
    found_verdict: dict[str, Any] = {"clean": not found, "found": found}
    if after.get("anon_kib"):
        # What one process holds once it has loaded the app: start.py sizes workers by it.
        found_verdict["memory_mib"] = memory_mib(after["anon_kib"])
    return found_verdict


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _comm(task: str) -> str:
    try:
        with open(f"{task}/comm", encoding="utf-8", errors="replace") as file:
            return file.read().strip()
    except OSError:
        return "?"


# --- the decision -------------------------------------------------------------------


VARIABLE = "WSGI_PRELOAD"
_WORDS = {
    **dict.fromkeys(("auto",), "auto"),
    **dict.fromkeys(("on", "true", "yes", "1"), "on"),
    **dict.fromkeys(("off", "false", "no", "0"), "off"),
}


def read_verdict(path: str) -> dict[str, Any] | None:
    """The build's import check's verdict (:func:`verdict`) in *path*; None without one."""
    try:
        with open(path, encoding="utf-8") as file:
            found = json.load(file)
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("clean"), bool) else None


#: How the start line of a preloading server begins.
PRELOADED = "app: preloaded"


def decide(
    spec: dict[str, Any], environ: dict[str, str], verdict: dict[str, Any] | None
) -> tuple[list[str], str]:
    """The arguments that make the server preload the app or not, and the start line.

    ``WSGI_PRELOAD`` wins, then the image's ``preload``; 'auto' preloads when
    *verdict* (:func:`read_verdict`) says the import left nothing running.
    """
    args = spec.get("preload_args") or {"on": [], "off": [], "cannot": None}
    text = environ.get(VARIABLE, "").strip()
    if text:
        if text.lower() not in _WORDS:
            raise PreloadError(
                f"{VARIABLE}={text!r} is not 'auto', 'on' or 'off'; set one of them, or unset "
                f"it for the image's setting ({spec.get('preload', 'auto')})"
            )
        setting, source = _WORDS[text.lower()], f"{VARIABLE}={text}"
    else:
        setting = spec.get("preload", "auto")
        source = f'preload = "{setting}" in the image'
    if args.get("cannot"):
        asked = f"; {source} does not apply" if setting == "on" else ""
        return [], f"app: loaded by each process ({args['cannot']}{asked})"
    if setting == "auto":
        if verdict is None:
            on, why = False, "the image has no import check's verdict (import-check = false)"
        elif verdict["clean"]:
            on = True
            why = "the build's import check left no thread, socket or child process running"
        else:
            on = False
            why = f"the build's import check left {'; '.join(verdict['found'])} running"
        source = f"{source}: {why}"
    else:
        on = setting == "on"
    if on:
        line = f"{PRELOADED} by the master, which forks the workers with it loaded ({source})"
        return list(args["on"]), line
    return list(args["off"]), f"app: loaded by each worker ({source})"


# --- Django's URLconf ----------------------------------------------------------------


def django_urlconf() -> Any:
    """The URLconf (``ROOT_URLCONF``) of the Django project this process has set up
    (``django.setup()``, which ``get_wsgi_application()`` runs); None when there is none
    to load: not Django, Django not set up, or no ``ROOT_URLCONF``."""
    if "django" not in sys.modules:  # not imported by the app: not a Django app
        return None
    try:
        from django.apps import apps  # type: ignore[import-not-found]
        from django.conf import settings  # type: ignore[import-not-found]

        if not apps.ready or not settings.configured:
            return None
        return getattr(settings, "ROOT_URLCONF", None) or None
    except Exception:  # not a Django that can be asked: nothing is loaded
        return None


def load_urlconf() -> None:
    """Load the URLconf as Django's first request does (``BaseHandler.resolve_request``:
    ``get_resolver()``, whose ``url_patterns`` import ``ROOT_URLCONF``, the views it
    imports and the URLconfs it includes); raise what that raises. Nothing is resolved,
    no view or middleware runs. A failed load is not kept: Django tries again at the
    first request."""
    from django.urls import get_resolver  # type: ignore[import-not-found]

    get_resolver().url_patterns  # noqa: B018  # a cached property: imports it once


#: Who loads the URLconf before any request, by :func:`loads_before_serving`'s answer.
LOADER = {
    "master": ("the master", "which forks the workers with it loaded"),
    "process": ("the server's one process", "before it serves"),
}


def loads_before_serving(server: str | None, argv: list[str]) -> str | None:
    """Which process this is, when it loaded the app before any request: 'master' (of
    Gunicorn run with ``--preload``, of uWSGI without ``--lazy-apps``), which then forks
    the workers, or 'process' (cheroot's one process). None where a worker (or a
    mod_wsgi daemon process) loaded the app as it started: that is left as it was."""
    if server == "gunicorn":
        return "master" if "--preload" in argv else None
    if server == "uwsgi":
        uwsgi = sys.modules.get("uwsgi")  # uWSGI's own module, in its processes only
        return "master" if uwsgi is not None and uwsgi.worker_id() == 0 else None
    if server == "cheroot":
        return "process"
    return None


def preload_urlconf(process: str, checked: dict[str, Any] | None) -> str | None:
    """For a Django app, load its URLconf in this *process* (:func:`loads_before_serving`)
    when the build's import check (its verdict, *checked*) loaded it and saw it leave
    nothing running; the line that says what was done (None: not a Django app). Loading
    it here never stops the start: whatever it raises, the line says so, and Django
    loads it at the first request, as it always did."""
    root = django_urlconf()
    if root is None:
        return None
    who, when = LOADER[process]
    left = f"URLconf: {root!r} left to the first request, as Django does"
    if (why := _not_checked((checked or {}).get("urlconf"))) is not None:
        return f"{left} ({why})"
    before = running()
    try:
        load_urlconf()
    except Exception as exc:  # a service it reaches, a variable it reads: not here yet
        message = " ".join(str(exc).split())
        if len(message) > 200:
            message = message[:200] + "..."
        return f"{left} (loading it in {who} raised {type(exc).__name__}: {message})"
    found = "; ".join(verdict(before, running())["found"])
    if found and process == "master":
        return (
            f"warning: URLconf: {root!r} loaded by the master, which left {found} running "
            "that the workers it forks share; set WSGI_PRELOAD=off if they must not"
        )
    return f"URLconf: {root!r} loaded by {who}, {when} (Django loads it at the first request)"


def _not_checked(record: Any) -> str | None:
    """Why the import check's *record* of the URLconf (``check_urlconf`` in
    containerize_wsgi.py) does not let it be loaded before serving; None when it does."""
    if not isinstance(record, dict):
        return "the image has no import check's verdict on it"
    if not record.get("loaded"):
        return f"the build's import check could not load it: {record.get('error', 'an error')}"
    if record.get("found"):
        return f"loading it in the build's import check left {'; '.join(record['found'])} running"
    return None
