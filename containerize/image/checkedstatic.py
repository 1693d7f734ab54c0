"""The static command run by the first server's import check, in its process.

When the project's static command is Python running a script or a module
(``python manage.py collectstatic --noinput``), the step that imports the app for the
check runs it right after the app loaded and the verdict is written
(``containerize_wsgi.py --check ... --then COMMAND``): the framework the app imports
(Django) is loaded once, in one step, instead of twice in two steps side by side (the
``static`` stage, kept for any other command). The command runs as the app's user,
with its folder an empty tmpfs it may write; the step gathers the folder under
:data:`CHECKED_STATIC_ROOT`, and every server's image copies it from there, owned by
root, after the app: the same layer as the ``static`` stage's.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from containerize import staticfiles
from containerize.buildsteps.wheels import FIXED_EPOCH
from containerize.image.plan import BuildPlan

#: Where the check's step gathers the static folder, with its parents: a folder the
#: app's user can make, in no layer (the app stage is never exported).
CHECKED_STATIC_ROOT = "/tmp/containerize/static"  # noqa: S108 (in the build stage, not this host)
# A path a --mount option can name: no comma, quote, '=' or space to split it.
_MOUNT_PATH = re.compile(r"/[A-Za-z0-9._@+/-]+")


def static_in_check(plan: BuildPlan) -> bool:
    """True when the first server's import check runs the static command itself, in its
    process, right after the app loaded (``containerize_wsgi.py --check ... --then``):
    the command is Python running a script or a module
    (:func:`containerize.staticfiles.runs_in_python`) and its folder can be mounted
    (a name a mount option can hold, no writable path in it or around it, which the
    check mounts too). The framework is then loaded once, in one step, not twice in
    two; any other command keeps the ``static`` stage of its own."""
    static = plan.static
    if not (plan.import_check and static and static.command and plan.servers):
        return False
    folder = f"{plan.app_dir}/{static.dir}"
    nested = any(
        entry.path == static.dir
        or entry.path.startswith(static.dir + "/")
        or static.dir.startswith(entry.path + "/")
        for entry in plan.writable
    )
    return (
        staticfiles.runs_in_python(static.command)
        and bool(_MOUNT_PATH.fullmatch(folder))
        and not nested
    )


def checked_static_mount(plan: BuildPlan) -> str:
    """The static folder as the check's step sees it: an empty tmpfs, which the app's
    user may write (the app folder is root's); the context's own copy of the folder,
    if any, is in the app's layer below the static files' layer."""
    assert plan.static is not None
    return f"--mount=type=tmpfs,target={plan.app_dir}/{plan.static.dir}"


def checked_static_commands(plan: BuildPlan) -> list[list[str]]:
    """After the static command, in the check's step: its folder copied under its path
    into :data:`CHECKED_STATIC_ROOT` (made if the command made nothing), ``0755`` as a
    folder the command makes (the tmpfs is ``1777``), with fixed timestamps; the images
    copy it, owned by root, as the ``static`` stage's layer would be."""
    assert plan.static is not None
    folder = f"{plan.app_dir}/{plan.static.dir}"
    parent = str(PurePosixPath(folder).parent)
    return [
        ["mkdir", "-p", f"{CHECKED_STATIC_ROOT}{parent}"],
        ["cp", "-a", folder, f"{CHECKED_STATIC_ROOT}{parent}/"],
        ["chmod", "0755", f"{CHECKED_STATIC_ROOT}{folder}"],
        [
            "find", CHECKED_STATIC_ROOT, "-exec", "touch", "--no-dereference",
            f"--date=@{FIXED_EPOCH}", "{}", "+",
        ],
    ]  # fmt: skip
