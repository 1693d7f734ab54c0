"""Nox sessions for a project's ``noxfile.py``.

Usage, in the project's ``noxfile.py``::

    import containerize.nox

    containerize.nox.register()

``nox -l`` then lists the sessions below; ``nox -s image -- --dry-run`` passes
arguments through to ``containerize build``. The sessions run in Nox's own
interpreter (no virtual environment): they drive the engine, they do not install the
project.

The test matrix is one session per cell, ``test_images(server='uwsgi',
platform='linux/arm64')`` (``test_images(target='api', server='uwsgi',
platform='linux/arm64')`` in a repository with several targets: ``image``, ``release``
and ``test_images`` cover every target), each runnable alone; ``nox -s test_images`` runs them all,
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

from containerize import cli, config, workspace
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
    """One ``test_images`` session per (server, platform) of the project's configuration;
    in a repository with several targets, per (target, server, platform)."""
    name = prefix + "test_images"
    doc = "Run one image and check it over HTTP (containerize test); all cells: -s test_images."
    try:
        cells = _cells(Path(project_dir))
    except ContainerizeError as exc:
        # 'nox -l' still works; running the session says what is wrong.
        problem = exc

        def broken(session: nox.Session) -> None:
            session.error(f"containerize test: {problem}")

        broken.__doc__ = doc
        nox.session(name=name, python=False, default=False)(broken)
        return

    def cell(session: nox.Session, target: str, server: str, platform: str) -> None:
        argv = ["test", *([target] if target else []), "--server", server]
        argv += ["--platform", platform, "--jobs", "1"]
        _run(session, [*argv, *session.posargs], project_dir)

    def project_cell(session: nox.Session, server: str, platform: str) -> None:
        cell(session, "", server, platform)

    if any(target for target, _, _ in cells):
        # The names read test_images(target='api', server=..., platform=...).
        chosen = nox.parametrize(("target", "server", "platform"), [list(c) for c in cells])(cell)
    else:
        # Applied innermost first: the names read test_images(server=..., platform=...).
        servers_ = list(dict.fromkeys(server for _, server, _ in cells))
        platforms = list(dict.fromkeys(platform for _, _, platform in cells))
        chosen = nox.parametrize("server", servers_)(project_cell)
        chosen = nox.parametrize("platform", platforms)(chosen)
    chosen.__doc__ = doc
    chosen.__name__ = name
    nox.session(
        name=name,
        python=False,
        default=False,
        requires=[prefix + "image"],
        allow_parallel=True,
    )(chosen)
    if nox.options.parallel is None:
        nox.options.parallel = os.cpu_count() or 1
        # Said when no selected session may run in parallel: true, and not news to a
        # user who never asked for --parallel (it was set here, for the matrix).
        logging.getLogger("nox").addFilter(_NotParallelFilter())


def _cells(project: Path) -> list[tuple[str, str, str]]:
    """``(target, server, platform)`` of every cell: the target is "" for a project
    alone, else each target's name, in ``containerize list``'s order."""
    found = workspace.find(project)
    if not found:
        cfg = config.load(project)
        return [("", s, str(p)) for p in cfg.platforms for s in cfg.servers]
    cells = []
    for target in found:
        cfg = workspace.load(target)
        cells += [(target.name, s, str(p)) for s in cfg.servers for p in cfg.platforms]
    return cells


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
