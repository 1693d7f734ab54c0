"""The ``containerize`` command: parse, call the library, print."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from containerize import __version__, bases, options, process
from containerize.errors import ContainerizeError, Interrupted

logger = logging.getLogger("containerize")
#: The command line's values of [tool.containerize] keys, by key.
Overrides = Mapping[str, Any]


def _global_options(*, top: bool) -> argparse.ArgumentParser:
    """``--project`` and ``-v``, accepted before or after the subcommand.

    Subcommands default to SUPPRESS, so a value given before the subcommand is not
    overwritten by the subcommand's default.
    """
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--project",
        type=Path,
        default=Path.cwd() if top else argparse.SUPPRESS,
        metavar="DIR",
        help="the project's directory (holding pyproject.toml); default: the current one",
    )
    options.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="log every command run",
    )
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="containerize",
        description="Build, test and release container images for Python WSGI applications.",
        parents=[_global_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"containerize {__version__}")
    shared = _global_options(top=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = functools.partial(commands.add_parser, parents=[shared])

    _option_flags(add("doctor", help="check the engine a build needs"), "doctor")

    engine = add("engine", help="provision a BuildKit engine and registry on this Debian host")
    engine.add_argument("action", choices=["up", "second", "down", "status"])

    base = add(
        "base-image",
        help="build a Debian Python base image and push it to 127.0.0.1:5000 "
        f"(default: {bases.DEFAULT_SUITE.local_ref})",
    )
    which = base.add_mutually_exclusive_group()
    which.add_argument(
        "--python", metavar="X.Y",
        help="the image of the Debian suite that ships this Python: "
        + ", ".join(f"{s.python_text} ({s.name})" for s in bases.SUITES),
    )  # fmt: skip
    which.add_argument(
        "--suite", metavar="NAME", help="the image of this Debian suite (as for --python)"
    )

    service = add(
        "service-image",
        help="build a service image (PostgreSQL, Redis) from Debian's packages for the test "
        "matrix's services, and push it to 127.0.0.1:5000",
    )
    service.add_argument("name", choices=["postgres", "redis"])
    service.add_argument(
        "--platform",
        dest="service_platforms",
        action="append",
        metavar="PLATFORM",
        help="build for this platform only (repeatable; default: linux/amd64 and linux/arm64)",
    )

    ignore = add("dockerignore", help="print a .dockerignore for building the project by hand")
    ignore.add_argument("--write", action="store_true", help="write it into the project")

    pin = add(
        "pin",
        help="pin the base image by digest in containerize.lock, and the sdists' build "
        "requirements by hash in containerize-build.lock",
    )
    pin.add_argument("--refresh", action="store_true", help="resolve both again")

    for name, help_text in (
        ("wheelhouse", "fetch the locked files for every platform, hash-verified"),
        ("build", "render the Dockerfile and build one image per server"),
    ):
        sub = add(name, help=help_text)
        _option_flags(sub, name)
        if name == "build":
            _build_options(sub)
    add("list", help="show each target with its app, servers and image")
    test = add("test", help="run every server's image on every platform and check it")
    _option_flags(test, "test")
    _test_options(test)
    release = add("release", help="push, test, then tag one image per server")
    _option_flags(release, "release")
    _release_options(release)
    init = add("init", help="detect the app, lock and Python; write [tool.containerize]")
    _init_options(init)
    _lock_command(add)
    return parser


def _lock_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """``containerize lock [FILE...]``: a pylock.toml where the project has no lock."""
    sub = add(
        "lock",
        help="resolve the project's requirements once, with uv, into a hashed pylock.toml",
    )
    sub.add_argument(
        "inputs", nargs="*", type=Path, metavar="FILE",
        help="what to lock: requirements files (several are locked together), a Pipfile or "
        "pyproject.toml, and package folders to install with them ('.': the project itself, "
        "built into a wheel); default: what the last lock was made from, else the one the "
        "project has",
    )  # fmt: skip
    sub.add_argument(
        "--python", metavar="X.Y",
        help="the lowest Python to lock for (default: the Pipfile's, else "
        "tool.containerize.python-version, else 3.11); newer ones are covered too",
    )  # fmt: skip
    sub.add_argument(
        "--upgrade-package", "-P", action="append", default=[], dest="upgrade",
        metavar="NAME", help="let this package move to its newest allowed version (repeatable)",
    )  # fmt: skip
    sub.add_argument(
        "--upgrade", "-U", action="store_true", dest="upgrade_all",
        help="let every package move (default: keep the pins the input still allows)",
    )  # fmt: skip
    sub.add_argument(
        "--uv",
        type=Path,
        metavar="PATH",
        help="run this uv instead of the one in containerize's tools lock",
    )


def _init_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--force", action="store_true", help="replace an existing table")
    sub.add_argument("--dry-run", action="store_true", help="print the table, write nothing")
    sub.add_argument(
        "--app", metavar="SPEC",
        help="the application, when the project holds several (as 'app' takes it)",
    )  # fmt: skip
    sub.add_argument(
        "--app-directory", metavar="DIR",
        help="the folder the application is imported from, when several hold one by that name",
    )  # fmt: skip
    sub.add_argument(
        "--lock", action="append", metavar="FILE",
        help="the lock file, when the project holds several (repeat it for a set of "
        "requirements files)",
    )  # fmt: skip


def _option_flags(sub: argparse.ArgumentParser, command: str) -> None:
    """The flags of the [tool.containerize] keys *command* takes (containerize.options)."""
    for _, flag, help_text in options.flags(command):
        sub.add_argument(
            flag.name, action=flag.action, dest=flag.dest, metavar=flag.metavar, help=help_text
        )


def _test_options(sub: argparse.ArgumentParser) -> None:
    _target_arguments(sub, "test these targets only")
    sub.add_argument(
        "--image", action="append", dest="images", default=[], metavar="[SERVER=]REFERENCE",
        help="test this image (a tag or a pushed digest) instead of the one built for SERVER",
    )  # fmt: skip
    sub.add_argument(
        "--jobs", "-j", type=int, metavar="N",
        help="cells run side by side (default: one per CPU)",
    )  # fmt: skip


def _build_options(sub: argparse.ArgumentParser) -> None:
    out = sub.add_mutually_exclusive_group()
    out.add_argument("--push", action="store_true", help="push the images to their registry")
    out.add_argument("--load", action="store_true", help="load the images into the engine")
    sub.add_argument(
        "--dry-run", action="store_true",
        help="print the Dockerfile and the buildx commands, run nothing",
    )  # fmt: skip
    sub.add_argument("--print-dockerfile", action="store_true", help="print only the Dockerfile")
    sub.add_argument(
        "--bake", type=Path, metavar="FILE", help="write a docker-bake.json for 'buildx bake'"
    )
    sub.add_argument("--refresh-base", action="store_true", help="resolve the base digest again")
    sub.add_argument("--no-cache", action="store_true", help="build every step again")
    sub.add_argument(
        "--rebuild", action="store_true",
        help="build an image even when the one already there has its key (with the cache)",
    )  # fmt: skip
    sub.add_argument(
        "targets", nargs="*", metavar="TARGET",
        help="build these targets only (default: every target; see 'containerize list')",
    )  # fmt: skip
    sub.add_argument(
        "--changed-since", metavar="REF",
        help="build only the targets whose files, or local packages, changed since git REF",
    )  # fmt: skip


def _target_arguments(sub: argparse.ArgumentParser, what: str) -> None:
    sub.add_argument(
        "targets", nargs="*", metavar="TARGET",
        help=f"{what} (default: every target; see 'containerize list')",
    )  # fmt: skip


def _release_options(sub: argparse.ArgumentParser) -> None:
    _target_arguments(sub, "release these targets only")
    sub.add_argument(
        "--dry-run", action="store_true",
        help="print the tag plan per server and platform, build and push nothing",
    )  # fmt: skip
    sub.add_argument(
        "--force", action="store_true",
        help="overwrite existing immutable tags; sha tags from a work tree with changes",
    )  # fmt: skip
    sub.add_argument(
        "--provenance", action="store_true",
        help="attach BuildKit's provenance to each platform's manifest",
    )  # fmt: skip
    sub.add_argument(
        "--sign-key", metavar="KEY",
        help="sign the pushed digests with cosign and this key (file or KMS URI)",
    )  # fmt: skip
    sub.add_argument(
        "--skip-tests", action="store_true",
        help="move the tags without running the test matrix on the pushed digests",
    )  # fmt: skip
    sub.add_argument("--no-cache", action="store_true", help="build every step again")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``containerize`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    # Set on containerize's own logger: a host that configured logging already (Nox,
    # pytest) keeps its handlers, and still hears every command only with -v.
    level = logger.level
    logger.setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        # SIGINT and SIGTERM stop the run at once, through every cleanup on the way out.
        with process.interruptible():
            return _dispatch(args)
    except Interrupted as exc:
        exc.doing(f"running 'containerize {args.command}'")
        print(f"containerize: {exc.line()}", file=sys.stderr)
        return exc.exit_code
    except ContainerizeError as exc:
        print(f"containerize: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # A disk full, a permission denied: say which file, not a traceback.
        print(f"containerize: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("containerize: interrupted", file=sys.stderr)
        return 130
    finally:
        logger.setLevel(level)


def _dispatch(args: argparse.Namespace) -> int:
    project: Path = args.project
    # Command-line values of [tool.containerize] keys: validated with the file's.
    overrides = {
        option.key: getattr(args, flag.dest, None)
        for option, flag, _ in options.flags(args.command)
    }
    group = next(handlers for names, handlers in _GROUPS if args.command in names)
    return group(args, project, overrides)[args.command]()


# Each group of commands imports its module only when one of its commands runs: a build
# does not load the release's or the test matrix's modules (issue 26: start-up time).
Handlers = dict[str, Callable[[], int]]


def _machine(args: argparse.Namespace, project: Path, overrides: Overrides) -> Handlers:
    from containerize.commands import machine  # noqa: PLC0415  (see _GROUPS)

    return {
        "doctor": lambda: machine.doctor(project, overrides=overrides),
        "engine": lambda: machine.engine(args.action),
        "base-image": lambda: machine.base_image(suite=args.suite, python=args.python),
        "service-image": lambda: machine.service_image(
            args.name, platforms=args.service_platforms or ()
        ),
    }


def _setup(args: argparse.Namespace, project: Path, overrides: Overrides) -> Handlers:
    from containerize.commands import setup  # noqa: PLC0415  (see _GROUPS)

    return {
        "dockerignore": lambda: setup.dockerignore(project, write=args.write),
        "init": lambda: setup.init(
            project,
            force=args.force,
            dry_run=args.dry_run,
            app=args.app,
            app_directory=args.app_directory,
            lock=args.lock,
        ),
    }


def _locking(args: argparse.Namespace, project: Path, overrides: Overrides) -> Handlers:
    from containerize.commands import locking  # noqa: PLC0415  (see _GROUPS)

    return {
        "pin": lambda: locking.pin(project, refresh=args.refresh),
        "lock": lambda: locking.lock(
            args.project, inputs=args.inputs, python=args.python, upgrade=args.upgrade,
            upgrade_all=args.upgrade_all, uv=args.uv,
        ),
    }  # fmt: skip


def _building(args: argparse.Namespace, project: Path, overrides: Overrides) -> Handlers:
    from containerize.commands import building  # noqa: PLC0415  (see _GROUPS)

    return {
        "wheelhouse": lambda: building.wheelhouse(project, overrides=overrides),
        "build": lambda: building.build(
            project,
            overrides=overrides,
            push=args.push,
            dry_run=args.dry_run,
            print_dockerfile=args.print_dockerfile,
            bake=args.bake,
            refresh_base=args.refresh_base,
            no_cache=args.no_cache,
            targets=args.targets,
            changed_since=args.changed_since,
            rebuild=args.rebuild,
        ),
        "list": lambda: building.list_targets(project),
    }


def _testing(args: argparse.Namespace, project: Path, overrides: Overrides) -> Handlers:
    from containerize.commands import testing  # noqa: PLC0415  (see _GROUPS)

    return {
        "test": lambda: testing.test(
            project,
            servers=args.servers or (),
            platforms=args.platforms or (),
            images=args.images,
            jobs=args.jobs,
            targets=args.targets,
        ),
    }


def _releasing(args: argparse.Namespace, project: Path, overrides: Overrides) -> Handlers:
    from containerize.commands import releasing  # noqa: PLC0415  (see _GROUPS)

    return {
        "release": lambda: releasing.release(
            project,
            overrides=overrides,
            dry_run=args.dry_run,
            force=args.force,
            provenance=args.provenance,
            sign_key=args.sign_key,
            no_cache=args.no_cache,
            skip_tests=args.skip_tests,
            targets=args.targets,
        ),
    }


_GROUPS: tuple[
    tuple[frozenset[str], Callable[[argparse.Namespace, Path, Overrides], Handlers]], ...
] = (
    (frozenset({"doctor", "engine", "base-image", "service-image"}), _machine),
    (frozenset({"dockerignore", "init"}), _setup),
    (frozenset({"pin", "lock"}), _locking),
    (frozenset({"wheelhouse", "build", "list"}), _building),
    (frozenset({"test"}), _testing),
    (frozenset({"release"}), _releasing),
)


if __name__ == "__main__":
    sys.exit(main())
