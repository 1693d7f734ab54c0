"""Nox sessions for a project's ``noxfile.py``.

Usage, in the project's ``noxfile.py``::

    import containerize.nox

    containerize.nox.register()

``nox -l`` then lists the sessions below; ``nox -s image -- --dry-run`` passes
arguments through to ``containerize build``. The sessions run in Nox's own
interpreter (no virtual environment): they drive the engine, they do not install the
project.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nox

from containerize import cli


def register(*, project: str | Path = ".", prefix: str = "") -> None:
    """Add containerize's sessions to the running noxfile.

    *project* is the directory holding ``pyproject.toml`` (relative to the noxfile);
    *prefix* is prepended to each session name, to keep them apart from yours.
    """
    project_dir = str(project)

    def add(name: str, command: Sequence[str], doc: str) -> None:
        def session(session: nox.Session) -> None:
            _run(session, [*command, *session.posargs], project_dir)

        session.__doc__ = doc
        session.__name__ = prefix + name
        nox.session(name=prefix + name, python=False, default=False)(session)

    add("image", ["build"], "Build one image per WSGI server and platform (containerize build).")
    add("wheelhouse", ["wheelhouse"], "Fetch the locked files for every platform, hash-verified.")
    add("doctor", ["doctor"], "Check the engine, buildx, emulators and registry a build needs.")
    add(
        "release",
        ["release"],
        "Push one multi-platform image per server by digest, test it, then move the tags "
        "(containerize release).",
    )


def _run(session: nox.Session, args: Sequence[str], project: str) -> None:
    argv = ["--project", project, *args]
    session.log("containerize " + " ".join(argv))
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's answer to bad arguments, already printed
        code = exc.code if isinstance(exc.code, int) else 2
    if code != 0:
        session.error(f"containerize {args[0]} failed (exit code {code})")
