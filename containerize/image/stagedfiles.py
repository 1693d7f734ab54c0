"""The stages that gather files for a layer of their own with fixed timestamps: the
users stage (the account files, the app user's home, the app folder) and the files
stages (containerize's runtime files, each server's, the app): each layer is the same
bytes whenever its files are, after a cache miss or a context written afresh.

With the import check on, the app is gathered by the step that imports it
(:func:`checked_app_commands`), right after the import succeeds: one step on a code
change instead of two in a row, and the image still copies only an app that imported.
"""

from __future__ import annotations

from containerize.buildsteps.wheels import FIXED_EPOCH
from containerize.image.escape import dockerfile_stage, dockerfile_word, shell_word
from containerize.image.instructions import FILES_ROOT, files_stage
from containerize.image.plan import RUNTIME_CONTEXT, BuildPlan
from containerize.runtime import IMAGE_DIR

#: The app user's home.
HOME = "/home/app"
#: Where the users stage writes the account files, the home and the app folder.
USERS_ROOT = "/users"
# The users stage: the target's /etc, mounted.
_BASE_ETC = "/base-etc"
#: Where the import check's step gathers the app it imported: a folder the app's user
#: can make (the step runs as that user), in no layer of the image (the stage is never
#: exported; the image copies the folder's contents, owned by root).
CHECKED_APP_ROOT = "/tmp/containerize" + FILES_ROOT  # noqa: S108 (in the build stage, not this host)


def users_stage(plan: BuildPlan) -> list[str]:
    """The target base image's account files with the app's user and group added, and
    its home: made on the build platform, copied by the runtime stage."""
    uid, gid = plan.uid, plan.gid
    group = shell_word(f"app:x:{gid}:", always_quote=True)
    passwd = shell_word(
        f"app:x:{uid}:{gid}:containerize app:{HOME}:/usr/sbin/nologin", always_quote=True
    )
    home = shell_word(USERS_ROOT + HOME)
    app = shell_word(USERS_ROOT + plan.app_dir, source="tool.containerize.app-directory")
    # The target's own files, read through a mount: right whatever its architecture,
    # and none of its programs runs, so nothing is emulated. Written directly rather
    # than with useradd: no shadow dates, so the layer is reproducible, and no
    # dependency on the passwd package. The two files are mounted, not /etc: BuildKit
    # keys a read-only mount on the content it mounts, so when every platform's base
    # has the same two files (as a multi-platform base usually has), the step is the
    # same for all of them and runs once; /etc differs between platforms (ld.so.cache).
    mounts = [
        f"--mount=type=bind,from=base,source=/etc/{name},target={_BASE_ETC}/{name}"
        for name in ("passwd", "group")
    ]
    return [
        "# users: the target base image's /etc/passwd and /etc/group with the app's user",
        "# added, its home and the app folder, written natively with fixed timestamps;",
        "# the runtime stage copies them. Run once for every platform whose base has the",
        "# same two files.",
        "FROM builder AS users",
        f"RUN --network=none {mounts[0]} \\",
        f"    {mounts[1]} \\",
        f"    mkdir -p {USERS_ROOT}/etc {home} {app} \\",
        f" && cp {_BASE_ETC}/passwd {_BASE_ETC}/group {USERS_ROOT}/etc/ \\",
        f" && echo {group} >> {USERS_ROOT}/etc/group \\",
        f" && echo {passwd} \\",
        f"    >> {USERS_ROOT}/etc/passwd \\",
        f" && chown {shell_word(f'{uid}:{gid}')} {home} && chmod 0750 {home} \\",
        f" && find {USERS_ROOT} -exec touch --no-dereference --date=@{FIXED_EPOCH} '{{}}' +",
        "",
    ]


#: Where the import check's step mounts the project's app folder from the build
#: context, to gather it from: the files as the project has them, never what the
#: check itself wrote in a writable path.
APP_SOURCE = "/containerize-app"


def checked_app_mount() -> str:
    """The bind mount of the context's app folder at :data:`APP_SOURCE`."""
    return f"--mount=type=bind,source=app,target={APP_SOURCE}"


def checked_app_commands(app_dir: str, python: str) -> list[list[str]]:
    """The commands that gather the app folder *app_dir*, after the import check in the
    same step, under :data:`CHECKED_APP_ROOT` from :data:`APP_SOURCE`, its Python files
    compiled by *python* (checked-hash pycs named as the image's files, as
    :func:`.instructions.files_stage` does; a file that does not compile stays source),
    with fixed timestamps; the image copies that folder's contents onto ``/`` with root
    as the owner (:func:`containerize.image.dockerfile` ``_checked_app_copy``)."""
    dest = f"{CHECKED_APP_ROOT}{app_dir}"
    when = f"--date=@{FIXED_EPOCH}"
    # compile_dir's result is not the step's: the import check above decides the build.
    compile_code = (
        "import compileall, py_compile, sys; compileall.compile_dir(sys.argv[1], "
        "ddir=sys.argv[2], quiet=1, workers=0, "
        "invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)"
    )
    return [
        ["mkdir", "-p", dest],
        ["cp", "-R", f"{APP_SOURCE}/.", f"{dest}/"],
        ["env", "PYTHONHASHSEED=0", python, "-c", compile_code, dest, app_dir],
        ["find", CHECKED_APP_ROOT, "-exec", "touch", "--no-dereference", when, "{}", "+"],
    ]


def files_stages(plan: BuildPlan) -> list[str]:
    """The stages that gather containerize's runtime files (one layer for every
    server's image), each server's own files and, without the import check, the app,
    under their paths in the image with fixed timestamps (see
    :func:`.instructions.files_stage`). With the check, the step that imports the app
    gathers it (:func:`checked_app_commands`)."""
    lines = files_stage(
        "files-runtime",
        [(f"source={RUNTIME_CONTEXT}", IMAGE_DIR)],
        comment=[
            *(
                [
                    "files-runtime, files-<server>: containerize's files (the runtime's, then",
                    "the server's), each gathered under its path in the image with fixed",
                    "timestamps and their bytecode compiled: each layer is the same bytes",
                    "whenever its files are, and no start compiles them again (the app is",
                    "gathered so by the step that imports it).",
                ]
                if plan.import_check
                else [
                    "files-runtime, files-<server>, app-files-<server>: containerize's files",
                    "(the runtime's, then the server's) and the app, each gathered under its",
                    "path in the image with fixed timestamps and their bytecode compiled: each",
                    "layer is the same bytes whenever its files are, and no start compiles",
                    "them again.",
                ]
            ),
        ],
        python=plan.python,
    )
    for stage in plan.servers:
        name = dockerfile_stage(stage.name, source="tool.containerize.servers")
        server = f"source={dockerfile_word(stage.context_dir)}"
        lines += files_stage(f"files-{name}", [(server, IMAGE_DIR)], comment=[], python=plan.python)
        if not plan.import_check:
            app = [("source=app", plan.app_dir)]
            lines += files_stage(f"app-files-{name}", app, comment=[], python=plan.python)
    return lines
