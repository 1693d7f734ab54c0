"""containerize's uWSGI launcher: pyuwsgi's ``run()``, with no stop signal lost at start.

As PID 1, a process receives only the signals it has a handler for: until uWSGI's
master has installed its own, ``docker stop`` would be dropped, and the engine would
SIGKILL the container after its timeout. So start.py execs this launcher with SIGTERM
and SIGINT blocked (they wait, pending, instead of being dropped); it imports
pyuwsgi, installs handlers that only take note, and unblocks them. A stop that came
during start-up is then seen here, and the launcher exits 0 before uWSGI serves
anything; otherwise ``run()`` starts uWSGI, whose ``--hook-asap`` hooks install its
stop handlers first thing (see containerize.servers.uwsgi).

What remains is the image's Python starting start.py, before any code of ours runs:
a stop signal then is dropped (about 0.5 s on emulated arm64, a few tens of
milliseconds natively), as for every image whose PID 1 has no handler yet; ``docker
run --init`` covers that too.

argv: uWSGI's own arguments.

This file runs in the image: standard library and pyuwsgi only.
"""

from __future__ import annotations

import os
import signal
import sys

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_stopped = 0


def log(message: str) -> None:
    print(f"containerize: {message}", file=sys.stderr, flush=True)


def _note(signum: int, _frame: object) -> None:
    global _stopped
    _stopped = signum


def main(argv: list[str]) -> int:
    from pyuwsgi import run  # type: ignore[import-not-found]

    for signum in STOP_SIGNALS:
        signal.signal(signum, _note)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if _stopped:
        log(f"{signal.Signals(_stopped).name} before uWSGI started: stopping")
        return 0
    # The processes uWSGI forks inherit these dispositions: a worker that gets SIGINT
    # while it loads the app (the master's brutal stop) must end, not take note.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    # uWSGI reads its arguments from sys.argv; argv[0] names the uwsgi script beside
    # this Python, as its own console script would.
    sys.argv = [os.path.join(os.path.dirname(sys.executable), "uwsgi"), *argv]
    code = run()
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
