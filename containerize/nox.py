"""Nox sessions for a project's ``noxfile.py``.

Usage, in the project's ``noxfile.py``::

    import containerize.nox

    containerize.nox.register()

``nox -l`` then lists the sessions below; ``nox -s image -- --dry-run`` passes
arguments through to ``containerize build``. The sessions run in Nox's own
interpreter (no virtual environment): they drive the engine, they do not install the
project.

The test matrix is one session per cell, ``test_images(server='uwsgi',
platform='linux/arm64')``, each runnable alone; ``nox -s test_images`` runs them all,
after the ``image`` session they require, side by side: unless the noxfile or the
command line says otherwise (``-j N``), Nox's ``--parallel`` is set to one session per
CPU. Sessions that do not opt in (``allow_parallel``) still run one at a time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import nox

from containerize import cli, config
from containerize.errors import ContainerizeError


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
    _register_matrix(project_dir, prefix)


def _register_matrix(project_dir: str, prefix: str) -> None:
    """One ``test_images`` session per (server, platform) of the project's configuration."""
    name = prefix + "test_images"
    doc = "Run one image and check it over HTTP (containerize test); all cells: -s test_images."
    try:
        cfg = config.load(Path(project_dir))
    except ContainerizeError as exc:
        # 'nox -l' still works; running the session says what is wrong.
        problem = exc

        def broken(session: nox.Session) -> None:
            session.error(f"containerize test: {problem}")

        broken.__doc__ = doc
        nox.session(name=name, python=False, default=False)(broken)
        return

    def cell(session: nox.Session, server: str, platform: str) -> None:
        argv = ["test", "--server", server, "--platform", platform, "--jobs", "1"]
        _run(session, [*argv, *session.posargs], project_dir)

    cell.__doc__ = doc
    cell.__name__ = name
    # Applied innermost first: the names read test_images(server=..., platform=...).
    decorated = nox.parametrize("server", list(cfg.servers))(cell)
    decorated = nox.parametrize("platform", [str(p) for p in cfg.platforms])(decorated)
    nox.session(
        name=name,
        python=False,
        default=False,
        requires=[prefix + "image"],
        allow_parallel=True,
    )(decorated)
    if nox.options.parallel is None:
        nox.options.parallel = os.cpu_count() or 1
        # Said when no selected session may run in parallel: true, and not news to a
        # user who never asked for --parallel (it was set here, for the matrix).
        logging.getLogger("nox").addFilter(_NotParallelFilter())


class _NotParallelFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No selected session allows parallel")


def _run(session: nox.Session, args: Sequence[str], project: str) -> None:
    argv = ["--project", project, *args]
    session.log("containerize " + " ".join(argv))
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's answer to bad arguments, already printed
        code = exc.code if isinstance(exc.code, int) else 2
    if code != 0:
        session.error(f"containerize {args[0]} failed (exit code {code})")
