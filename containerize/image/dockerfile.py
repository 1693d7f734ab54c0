"""Rendering a :class:`~containerize.plan.BuildPlan` into a readable Dockerfile.

Stages, in dependency order:

``base``
    the base image, pinned by digest, for the target platform;
``builder``
    the same multi-platform image for the *build* platform, so the same Python: an
    empty virtual environment. It and the two stages below run natively for every
    target platform: placing a wheel's files and compiling bytecode do not depend on
    the CPU, and nothing there runs the wheels' code;
``deps``
    the application's locked dependencies, the target platform's wheels installed
    offline from the wheelhouse by pypa's installer;
``venv-<server>``
    one server and its dependencies on top, bytecode compiled deterministically;
``check-deps``, ``check-venv-<server>``
    the same venvs with the wheels of the plan's *check platform* (the target this
    machine runs natively, else the first target), for the two stages below;
``app-<server>``
    the application with check-venv-<server>'s venv, on the check platform: the
    project's static command (collectstatic) run, then the app imported once
    without network, as the app's user, so that a broken import fails the build.
    The final image copies the application from it, so the check always runs and
    leaves no layer behind. The check stages name the check platform literally and
    declare no TARGET* argument: the same text for every target, so BuildKit runs
    each once. Their ``COPY`` has no ``--link``: these stages are never exported,
    and a linked copy costs a merge of every layer below it (seconds with the
    docker driver) each time the app changes;
``static``
    with the import check off, the static command's own stage: the app with
    check-deps' venv on the check platform;
``users``
    on the build platform, the target base image's ``/etc/passwd`` and ``/etc/group``
    (read through a mount) with the app's user added, and its home;
``runtime``
    the base image plus the Debian packages the app's compiled wheels need and the
    project's declared run packages (:mod:`containerize.syspackages`), and the account
    files and home from ``users``;
``<server>``
    the final image: runtime OS packages, the venv, containerize's entrypoint and
    the server's settings, the application.

The wheelhouse is bind-mounted from named build contexts (one per platform's folder,
``wheelhouse-linux-amd64``; the compile build has one for the whole), never copied into a layer,
and every install step runs with ``--network=none``. Dependency layers never depend
on application files, so a code change rebuilds only the last ``COPY``.

The image's Dockerfile installs wheels only. sdists are compiled before, by a second,
smaller Dockerfile (:func:`render_compile`) built on the target platform, whose wheels
the wheelhouse then holds with their own hashes.

Every value reaches the text through :mod:`containerize.image.escape`, in the form of
the language it lands in (Dockerfile word, exec-form JSON, shell word, Python literal);
a value no form can hold is a :class:`~containerize.errors.ConfigError`.
"""

from __future__ import annotations

from containerize import __version__, reference, testenv
from containerize.buildsteps import MOUNT_DIR
from containerize.config import DEFAULT_EXCLUDES
from containerize.image import instructions
from containerize.image.escape import (
    dockerfile_key,
    dockerfile_stage,
    dockerfile_word,
    exec_form,
    shell_command,
    shell_word,
)
from containerize.image.plan import (
    APP_DIR,
    BUILD_ENV,
    COMPILE_TARGET,
    ENTRYPOINT,
    RUNTIME_CONTEXT,
    VENV,
    WHEELHOUSE_CONTEXT,
    BuildPlan,
    ServerStage,
)
from containerize.runtime import HEALTH, IMAGE_DIR

#: What the dry run says of the compile build.
COMPILE_NOTE = "the sdists, compiled on their target platform"
_COMPILED = "/wheels"
_BASE_PACKAGES = "/opt/containerize-base-packages.txt"
_SYSTEM_PACKAGES = "tool.containerize.system-packages"
_HOME = "/home/app"
# The users stage: the target's /etc, mounted, and the account files it writes.
_BASE_ETC = "/base-etc"
_USERS = "/users"


def render(plan: BuildPlan) -> str:
    """The Dockerfile for *plan*; the same plan always renders the same text.

    Raises :class:`~containerize.errors.ConfigError` naming the setting a value came
    from when the value cannot be written safely.
    """
    lines = _header(plan)
    if plan.app_dir != APP_DIR:
        lines += [
            f"# The app folder (tool.containerize.app-directory) is {_app_dir(plan)}: the",
            "# application's files, its working directory and its import root.",
            "",
        ]
    lines += [
        "# base: the pinned base image every stage starts from, for the target platform.",
        "FROM ${BASE_IMAGE} AS base",
        "",
        "# builder: the same image for the build platform (the same Python), with an empty",
        "# virtual environment: wheels are placed and bytecode compiled here, natively,",
        "# for every target platform.",
        "FROM --platform=${BUILDPLATFORM} ${BASE_IMAGE} AS builder",
        instructions.run(
            [[plan.python, "-m", "venv", "--without-pip", VENV]],
            network=False,
            source="the base image's Python",
        ),
        "",
    ]
    lines += [
        "# wheels: the target platform's folder of the wheelhouse (each platform's folder is",
        "# a build context of its own, so the stages that read it name no TARGET* argument",
        "# and BuildKit runs the same install once, whichever stage asks for it).",
        f"FROM {WHEELHOUSE_CONTEXT}-${{TARGETOS}}-${{TARGETARCH}}${{TARGETVARIANT}} AS wheels",
        "",
    ]
    lines += ["# deps: the application's locked dependencies, offline from the wheelhouse."]
    lines += _venv_stages(plan, prefix="", wheels="wheels")
    lines += _check_venv_stages(plan)
    if plan.import_check:
        for stage in plan.servers:
            lines += _app_stage(plan, stage)
    elif plan.static and plan.static.command:
        lines += _static_stage(plan)
    lines += _users_stage(plan)
    lines += _runtime_stage(plan)
    for stage in plan.servers:
        lines += _final_stage(plan, stage)
    return "\n".join(lines).rstrip("\n") + "\n"


def _header(plan: BuildPlan) -> list[str]:
    base = reference.parse(plan.base_image, where=instructions.BASE_IMAGE)
    return [
        f"# Generated by containerize {__version__}; edit [tool.containerize], not this file.",
        "# No '# syntax=' line on purpose: BuildKit's built-in Dockerfile frontend is used,",
        "# so a build never has to pull a frontend image.",
        "",
        f"ARG BASE_IMAGE={dockerfile_word(str(base), source=instructions.BASE_IMAGE)}",
        "",
    ]


def render_compile(plan: BuildPlan) -> str:
    """The Dockerfile that compiles sdists into wheels for the target platforms.

    Its ``wheels`` stage holds only the compiled wheels, for a local export. The build
    environment (pip and the locked build requirements) is placed on the build
    platform like any venv; only the compile itself runs on the target platform.
    """
    python = f"{BUILD_ENV}/bin/python"
    build = [python, f"{MOUNT_DIR}/wheels.py", "build", "--wheelhouse", instructions.WHEELHOUSE]
    build += ["--out", _COMPILED, "--base-packages", _BASE_PACKAGES]
    for package in plan.compile_packages:
        build += ["--system-package", package]
    build.append("compile.json")
    lines = _header(plan)
    lines += [
        "# build-env: pip and the sdists' locked build requirements, placed natively.",
        "FROM --platform=${BUILDPLATFORM} ${BASE_IMAGE} AS build-env",
        "ARG TARGETOS TARGETARCH TARGETVARIANT",
        instructions.run(
            [[plan.python, "-m", "venv", "--without-pip", BUILD_ENV]],
            network=False,
            source="the base image's Python",
        ),
        instructions.install(
            plan,
            BUILD_ENV,
            "build-env.json",
            source="the sdists' build requirements",
            tools=("pip",),
        ),
        "",
        "# compile: each sdist built into a wheel on the target platform, offline.",
        "FROM ${BASE_IMAGE} AS compile",
        "ARG TARGETOS TARGETARCH TARGETVARIANT",
    ]
    # What the base image has, before anything is installed: a library from one of
    # these packages needs nothing more at run time.
    lines.append(
        "RUN --network=none dpkg-query --show --showformat='${Package}\\n' \\\n"
        f"    > {shell_word(_BASE_PACKAGES)}"
    )
    if plan.compile_packages:
        lines.append(instructions.apt_install(plan.compile_packages, source=_SYSTEM_PACKAGES))
    lines += [
        f"COPY --link --from=build-env {dockerfile_word(BUILD_ENV)} {dockerfile_word(BUILD_ENV)}",
        f"RUN --network=none {instructions.mounts()} \\\n    " + shell_command(build),
        "",
        "# wheels: the compiled wheels alone, exported to the wheelhouse.",
        f"FROM scratch AS {COMPILE_TARGET}",
        f"COPY --link --from=compile {dockerfile_word(_COMPILED + '/')} /",
    ]
    return "\n".join(lines) + "\n"


def _venv_stages(plan: BuildPlan, *, prefix: str, wheels: str, servers: bool = True) -> list[str]:
    """``deps`` then one ``venv-<server>`` per server, each named with *prefix*, from
    the wheels of the stage *wheels*."""
    deps = f"{prefix}deps"
    lines = [f"FROM builder AS {deps}"]
    if plan.base_manifest:
        lines.append(
            instructions.install(
                plan, VENV, plan.base_manifest, source="the app's requirements", wheels=wheels
            )
        )
    lines.append("")
    for stage in plan.servers if servers else ():
        name = _stage_name(stage)
        lines += [
            f"# {prefix}venv-{name}: {name} and its dependencies on top of {deps}.",
            f"FROM {deps} AS {dockerfile_stage(prefix + 'venv-' + name)}",
            instructions.install(
                plan,
                VENV,
                stage.manifest,
                source=f"the {name} server's requirements",
                wheels=wheels,
            ),
        ]
        # unchecked-hash pycs carry no timestamps: the same sources give the same bytes.
        lines.append(
            instructions.run(
                [
                    [
                        f"{VENV}/bin/python", "-m", "compileall", "-q", "-j", "0",
                        "--invalidation-mode", "unchecked-hash", VENV,
                    ]
                ],
                network=False,
            )
        )  # fmt: skip
        lines.append("")
    return lines


def _static_stage(plan: BuildPlan) -> list[str]:
    """With the import check off: the static files, made by the project's command from
    the app and its dependencies (no server needed), once; then copied into each image."""
    return [
        "# static: the static files, made by the project's command from the app and its",
        f"# dependencies (no server needed), once, on {plan.check_platform}; then copied",
        "# into each image.",
        *_check_from(plan, "check-deps", "static"),
        f"COPY app/ {_app_dir(plan, '/')}",
        f"WORKDIR {_app_dir(plan)}",
        _env(plan),
        _static_run(plan),
        "",
    ]


def _static_run(plan: BuildPlan) -> str:
    """The project's static command, offline, then its folder made if the command made
    none: one that finds nothing to copy (Django's collectstatic with no app that ships
    static files) leaves no folder, and an empty one serves nothing, which is right."""
    assert plan.static is not None
    assert plan.static.command
    folder = f"{plan.app_dir}/{plan.static.dir}"
    return _with_test_env(
        plan,
        instructions.run(
            [plan.static.command, ["mkdir", "-p", folder]],
            network=False,
            source="tool.containerize.static.command",
        ),
    )


def _with_test_env(plan: BuildPlan, run: str) -> str:
    """*run* (a shell-form ``RUN --network=none`` line) with the test environment: the
    BuildKit secret mounted for this step alone and sourced before its commands, so the
    variables reach no layer, no ENV and no history entry."""
    if not plan.runs_the_app:
        return run
    prefix = "RUN --network=none "
    assert run.startswith(prefix)
    mount = f"--mount=type=secret,id={testenv.MOUNT_ID},target={testenv.MOUNT_PATH},mode=0444"
    return f"{prefix}{mount} \\\n    . {testenv.MOUNT_PATH} \\\n && {run[len(prefix) :]}"


def _env(plan: BuildPlan) -> str:
    """The ENV instruction every stage that runs the app shares: the venv first on PATH,
    Python's settings, then the project's ``env`` table."""
    env = [
        ("PATH", f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ("VIRTUAL_ENV", VENV),
        ("HOME", _HOME),
        ("LANG", "C.UTF-8"),
        ("PYTHONUNBUFFERED", "1"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
        ("PYTHONFAULTHANDLER", "1"),
        *plan.env,
    ]
    words = [
        f"{dockerfile_key(key, source='tool.containerize.env')}="
        f"{dockerfile_word(value, source=f'tool.containerize.env.{key}', always_quote=True)}"
        for key, value in env
    ]
    return "ENV " + " \\\n    ".join(words)


def _runtime_stage(plan: BuildPlan) -> list[str]:
    port = plan.port
    return [
        "# runtime: the base image, an unprivileged user with a writable home, and settings",
        "# shared by every server's image.",
        "FROM base AS runtime",
        *(
            [
                "ARG TARGETARCH",
                instructions.apt_install(plan.runtime_packages, source=_SYSTEM_PACKAGES),
            ]
            if plan.runtime_packages
            else []
        ),
        f"COPY --link --from=users {_USERS}/etc/passwd {_USERS}/etc/group /etc/",
        f"COPY --link --from=users {_USERS}/home/ /home/",
        _env(plan),
        f"WORKDIR {_app_dir(plan)}",
        f"EXPOSE {dockerfile_word(str(port), source='tool.containerize.port')}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \\",
        f"    CMD {_healthcheck(port, plan.healthcheck_path)}",
        *instructions.labels(plan.labels),
        "",
    ]


def _healthcheck(port: int, path: str) -> str:
    """containerize_health.py with the port and the path as its arguments: healthy for
    200 to 399, redirects not followed, as the test matrix judges readiness."""
    where = "tool.containerize.healthcheck-path"
    return exec_form([f"{VENV}/bin/python", HEALTH, str(port), path], source=where)


def _final_stage(plan: BuildPlan, stage: ServerStage) -> list[str]:
    name = _stage_name(stage)
    lines = [f"# {name}: the image that serves the application with {name}."]
    lines.append(f"FROM runtime AS {name}")
    if stage.runtime_packages:
        packages = instructions.apt_install(stage.runtime_packages, source=f"the {name} server")
        lines += ["ARG TARGETARCH", packages]
    image_dir = dockerfile_word(IMAGE_DIR + "/")
    lines += [
        f"COPY --link --from={dockerfile_stage('venv-' + name)} "
        f"{dockerfile_word(VENV)} {dockerfile_word(VENV)}",
        f"COPY --link {RUNTIME_CONTEXT}/ {image_dir}",
        f"COPY --link {dockerfile_word(stage.context_dir + '/')} {image_dir}",
    ]
    if plan.import_check:
        # From the stage that imported it: the same files, and the check must pass.
        app = dockerfile_word(APP_DIR + "/")
        lines.append(f"COPY --link --from={dockerfile_stage('app-' + name)} {app} {app}")
    else:
        lines += _app_files(plan)
    lines += [
        f"USER {_user(plan.uid, plan.gid)}",
        f"STOPSIGNAL {dockerfile_word(stage.stop_signal, source=f'the {name} server')}",
        "# start.py sizes the server to the container, runs the WSGI_* start-up hooks,",
        "# then execs the server command in server.json.",
        f"ENTRYPOINT {exec_form(ENTRYPOINT)}",
        "CMD []",
        "",
    ]
    return lines


def _app_stage(plan: BuildPlan, stage: ServerStage) -> list[str]:
    """The app on top of the server's venv: its static files made, then the app
    imported once as the server will import it."""
    name = _stage_name(stage)
    image_dir = dockerfile_word(IMAGE_DIR + "/")
    check = [f"{VENV}/bin/python", f"{IMAGE_DIR}/containerize_wsgi.py", "--check"]
    static = plan.static is not None and bool(plan.static.command)
    return [
        f"# app-{name}: the app with {name}'s venv and the project's environment, offline:",
        *(
            ["# the static command run (as root: it writes into the app folder), then"]
            if static
            else []
        ),
        "# the app imported as the app's user, so that an app that fails to import fails",
        f"# the build. It runs on {plan.check_platform}, once for every target platform.",
        *_check_from(plan, dockerfile_stage("check-venv-" + name), dockerfile_stage("app-" + name)),
        f"COPY {RUNTIME_CONTEXT}/ {image_dir}",
        f"COPY {dockerfile_word(stage.context_dir + '/')} {image_dir}",
        f"COPY app/ {_app_dir(plan, '/')}",
        _env(plan),
        f"WORKDIR {_app_dir(plan)}",
        *([_static_run(plan)] if static else []),
        f"USER {_user(plan.uid, plan.gid)}",
        _with_test_env(plan, instructions.run([check], network=False))
        if plan.runs_the_app
        else f"RUN --network=none {exec_form(check)}",
        "",
    ]


def _check_base(plan: BuildPlan) -> str:
    """The base image on the check platform (a literal: the same stage for every target,
    which BuildKit then runs once)."""
    platform = dockerfile_word(str(plan.check_platform), source="tool.containerize.platforms")
    return f"--platform={platform} ${{BASE_IMAGE}}"


def _check_from(plan: BuildPlan, venv: str, stage: str) -> list[str]:
    """How a stage that runs the app with *venv* (a check venv stage) starts.

    When the check platform is the build platform's and needs no system packages, the
    venv stage already is the base image on the check platform with the venv: the
    stage starts from it, copying nothing (a plain copy of a venv took 3-5 s of a
    cold build). Else the venv is copied onto the check platform's base.
    """
    if plan.check_is_native and not plan.runtime_packages:
        return [f"FROM {venv} AS {stage}"]
    return [
        f"FROM {_check_parent(plan)} AS {stage}",
        f"COPY --from={venv} {dockerfile_word(VENV)} {dockerfile_word(VENV)}",
    ]


def _check_parent(plan: BuildPlan) -> str:
    """What the import check and the static command start from: the base image on the
    check platform, with the runtime stage's system packages when there are any (libpq5
    for psycopg2: the import loads the libraries the image will have)."""
    return "check-runtime" if plan.runtime_packages else _check_base(plan)


def _check_venv_stages(plan: BuildPlan) -> list[str]:
    """The venvs again, with the check platform's wheels: what the import check and the
    static command run with. They name no target platform, so each is built once; and
    for the target that is the check platform they are the very same steps as its own
    venvs', which BuildKit runs once."""
    static = bool(plan.static and plan.static.command)
    if not (plan.import_check or static):
        return []
    context = f"{WHEELHOUSE_CONTEXT}-{plan.check_platform.slug}"
    runtime = (
        [
            "# check-runtime: the runtime stage's system packages, on the check platform.",
            f"FROM {_check_base(plan)} AS check-runtime",
            instructions.apt_install(
                plan.runtime_packages, source=_SYSTEM_PACKAGES, arch=plan.check_platform.arch
            ),
            "",
        ]
        if plan.runtime_packages
        else []
    )
    return [
        "# check-wheels, check-deps, check-venv-<server>: the same venvs with the wheels of",
        f"# {plan.check_platform}, the platform the import check and the static command run on.",
        f"FROM {dockerfile_stage(context)} AS check-wheels",
        "",
        *_venv_stages(plan, prefix="check-", wheels="check-wheels", servers=plan.import_check),
        *runtime,
    ]


def _app_files(plan: BuildPlan) -> list[str]:
    lines = [f"COPY --link app/ {_app_dir(plan, '/')}"]
    if plan.static and plan.static.command:
        folder = dockerfile_word(
            f"{plan.app_dir}/{plan.static.dir}/", source="tool.containerize.static"
        )
        lines.append(f"COPY --link --from=static {folder} {folder}")
    return lines


def _app_dir(plan: BuildPlan, suffix: str = "") -> str:
    """The app folder in the image (``/app``, or ``/app/site`` for app-directory 'site')."""
    return dockerfile_word(plan.app_dir + suffix, source="tool.containerize.app-directory")


def _stage_name(stage: ServerStage) -> str:
    return dockerfile_stage(stage.name, source="tool.containerize.servers")


def _users_stage(plan: BuildPlan) -> list[str]:
    """The target base image's account files with the app's user and group added, and
    its home: made on the build platform, copied by the runtime stage."""
    uid, gid = plan.uid, plan.gid
    group = shell_word(f"app:x:{gid}:", always_quote=True)
    passwd = shell_word(
        f"app:x:{uid}:{gid}:containerize app:{_HOME}:/usr/sbin/nologin", always_quote=True
    )
    home = shell_word(_USERS + _HOME)
    # The target's own files, read through a mount: right whatever its architecture,
    # and none of its programs runs, so nothing is emulated. Written directly rather
    # than with useradd: no shadow dates, so the layer is reproducible, and no
    # dependency on the passwd package.
    return [
        "# users: the target base image's /etc/passwd and /etc/group with the app's user",
        "# added, and its home, written natively; the runtime stage copies them.",
        "FROM builder AS users",
        f"RUN --network=none --mount=type=bind,from=base,source=/etc,target={_BASE_ETC} \\",
        f"    mkdir -p {_USERS}/etc {home} \\",
        f" && cp {_BASE_ETC}/passwd {_BASE_ETC}/group {_USERS}/etc/ \\",
        f" && echo {group} >> {_USERS}/etc/group \\",
        f" && echo {passwd} \\",
        f"    >> {_USERS}/etc/passwd \\",
        f" && chown {shell_word(f'{uid}:{gid}')} {home} && chmod 0750 {home}",
        "",
    ]


def _user(uid: int, gid: int) -> str:
    return dockerfile_word(f"{uid}:{gid}")


def dockerignore() -> str:
    """A ``.dockerignore`` for users who also build the project by hand."""

    return (
        "# Generated by containerize: keep secrets, VCS data and caches out of the context.\n"
        + "\n".join(
            f"**/{pattern}" if not pattern.startswith(".env") else pattern
            for pattern in DEFAULT_EXCLUDES
        )
        + "\n"
    )
