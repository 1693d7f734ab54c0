"""The stages that gather files for a layer of their own with fixed timestamps: the
users stage (the account files, the app user's home, the app folder) and the files
stages (containerize's runtime files, each server's, the app): each layer is the same
bytes whenever its files are, after a cache miss or a context written afresh.
"""

from __future__ import annotations

from containerize.buildsteps.wheels import FIXED_EPOCH
from containerize.image.escape import dockerfile_stage, dockerfile_word, shell_word
from containerize.image.instructions import files_stage
from containerize.image.plan import APP_DIR, RUNTIME_CONTEXT, BuildPlan
from containerize.runtime import IMAGE_DIR

#: The app user's home.
HOME = "/home/app"
#: Where the users stage writes the account files, the home and the app folder.
USERS_ROOT = "/users"
# The users stage: the target's /etc, mounted.
_BASE_ETC = "/base-etc"


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


def files_stages(plan: BuildPlan) -> list[str]:
    """The stages that gather containerize's runtime files (one layer for every
    server's image), each server's own files and the app (from the stage that imported
    it when there is one: the same files, and the check must pass), under their paths
    in the image with fixed timestamps (see :func:`.instructions.files_stage`)."""
    lines = files_stage(
        "files-runtime",
        [(f"source={RUNTIME_CONTEXT}", IMAGE_DIR)],
        comment=[
            "files-runtime, files-<server>, app-files-<server>: containerize's files (the",
            "runtime's, then the server's) and the app, each gathered under its path in the",
            "image with fixed timestamps: each layer is the same bytes whenever its files are.",
        ],
    )
    for stage in plan.servers:
        name = dockerfile_stage(stage.name, source="tool.containerize.servers")
        server = f"source={dockerfile_word(stage.context_dir)}"
        lines += files_stage(f"files-{name}", [(server, IMAGE_DIR)], comment=[])
        if plan.import_check:
            app = (f"from={dockerfile_stage('app-' + name)},source={APP_DIR}", APP_DIR)
        else:
            app = ("source=app", plan.app_dir)
        lines += files_stage(f"app-files-{name}", [app], comment=[])
    return lines
