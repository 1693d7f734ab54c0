"""The layer of the paths the app's user may write in the app folder
(``tool.containerize.writable``, checked by :mod:`containerize.writablepaths`).

The app folder is root's and read-only to the app. The ``writable`` stage, on the
build platform, gathers the listed paths under :data:`IMAGE_ROOT`, at their place in
the image: each folder empty, each file the project's own (or an empty one when the
project has none), owned by the app's uid and gid, folders ``0755`` and files
``0644`` (the owner, the app, writes; everyone reads, as the rest of the app folder).
The folders that lead to them are root's, ``0755``. Every entry has one fixed
timestamp, so the layer is the same bytes on every build. The image copies it after
the app and its static files: a listed folder's existing files, from the app's layer
below, stay root's and read-only unless listed themselves.

The import check runs as the app's user too, and must see the same paths: its ``RUN``
mounts each of them read-write from :data:`CHECK_ROOT`, the same files and folders
with the project's files inside the listed folders. What the check writes there is
discarded with the mount, so no log, upload or database written at build time reaches
the image's app layer (which is copied from the check's stage).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from containerize.buildsteps.wheels import FIXED_EPOCH
from containerize.errors import ConfigError
from containerize.image import instructions
from containerize.image.escape import shell_command, shell_word
from containerize.image.plan import BuildPlan
from containerize.writablepaths import WritablePath

#: The stage's name.
STAGE = "writable"
#: Where the stage gathers the layer the image copies onto /.
IMAGE_ROOT = "/writable/image"
#: Where it gathers what the import check mounts: the same, with the project's files in
#: the listed folders.
CHECK_ROOT = "/writable/check"
#: The app folder of the build context, mounted.
_SOURCE = "/source"
# A path in a --mount option: no comma, quote, '=' or space to split it.
_MOUNT_PATH = re.compile(r"/[A-Za-z0-9._@+/-]+")


def stage(plan: BuildPlan) -> list[str]:
    """The ``writable`` stage's lines (none when the project lists no path)."""
    if not plan.writable:
        return []
    owner = f"{plan.uid}:{plan.gid}"
    image = [_image_path(plan, entry) for entry in plan.writable]
    folders = [_image_path(plan, e) for e in plan.writable if e.folder]
    files = [_image_path(plan, e) for e in plan.writable if not e.folder]
    parents = sorted({str(PurePosixPath(path).parent) for path in files})
    steps = [shell_command(["mkdir", "-p", *sorted({*folders, *parents})])]
    for entry in plan.writable:
        if not entry.folder:
            source = shell_word(f"{_SOURCE}/{entry.path}")
            dest = shell_word(_image_path(plan, entry))
            # The project's file when the context has it, else an empty one.
            steps.append(f"if [ -f {source} ]; then cp {source} {dest}; else : > {dest}; fi")
    steps.append(shell_command(["chown", owner, *image]))
    if folders:
        steps.append(shell_command(["chmod", "0755", *folders]))
    if files:
        steps.append(shell_command(["chmod", "0644", *files]))
    steps.append(shell_command(["mkdir", "-p", CHECK_ROOT]))
    steps.append(shell_command(["cp", "-a", IMAGE_ROOT + "/.", CHECK_ROOT + "/"]))
    for entry in plan.writable:
        if entry.folder:
            source = shell_word(f"{_SOURCE}/{entry.path}")
            dest = shell_word(_check_path(plan, entry))
            # Root's copies, as in the app's layer: read-only to the check as to the app.
            steps.append(f"if [ -d {source} ]; then cp -R {source}/. {dest}/; fi")
    when = f"--date=@{FIXED_EPOCH}"
    steps.append(
        shell_command(["find", "/writable", "-exec", "touch", "--no-dereference", when, "{}", "+"])
    )
    listed = ", ".join(entry.text for entry in plan.writable)
    return [
        f"# writable: what tool.containerize.writable lists ({listed}), owned by the",
        f"# app's user ({owner}), with fixed timestamps; each image copies {IMAGE_ROOT}",
        f"# after the app, and the import check mounts {CHECK_ROOT} read-write.",
        f"FROM builder AS {STAGE}",
        f"RUN --network=none --mount=type=bind,source=app,target={_SOURCE} \\\n    "
        + " \\\n && ".join(steps),
        "",
    ]


def copy(plan: BuildPlan) -> list[str]:
    """The final stage's ``COPY`` of the layer (none without writable paths)."""
    if not plan.writable:
        return []
    return [f"COPY --link --from={STAGE} {IMAGE_ROOT}/ /"]


def check_mounts(plan: BuildPlan, run: str) -> str:
    """*run* (the import check's ``RUN --network=none`` line) with each writable path
    that no listed folder holds mounted read-write at its place in the app folder."""
    if not plan.writable:
        return run
    folders = [entry.path for entry in plan.writable if entry.folder]
    mounts = []
    for entry in plan.writable:
        if any(entry.path.startswith(folder + "/") for folder in folders):
            continue  # mounted with its folder
        source, target = _check_path(plan, entry), _in_app(plan, entry)
        mounts.append(f"--mount=type=bind,from={STAGE},source={source},target={target},rw")
    return instructions.with_mounts(run, mounts)


def _in_app(plan: BuildPlan, entry: WritablePath) -> str:
    path = f"{plan.app_dir}/{entry.path}"
    if not _MOUNT_PATH.fullmatch(path):
        raise ConfigError(
            f"tool.containerize.app-directory: {plan.app_dir!r} cannot be named in a "
            "build mount, which tool.containerize.writable needs",
            hint="use letters, digits and . _ - + @ in the app folder's name",
        )
    return path


def _image_path(plan: BuildPlan, entry: WritablePath) -> str:
    return IMAGE_ROOT + _in_app(plan, entry)


def _check_path(plan: BuildPlan, entry: WritablePath) -> str:
    return CHECK_ROOT + _in_app(plan, entry)
