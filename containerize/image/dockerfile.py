"""Rendering a :class:`~containerize.plan.BuildPlan` into a readable Dockerfile.

Stages, in dependency order:

``base``
    the base image, pinned by digest, for the target platform;
``builder``
    the same multi-platform image for the *build* platform, so the same Python: an
    empty virtual environment. It and the two stages below run natively for every
    target platform: placing a wheel's files and compiling bytecode do not depend on
    the CPU, and nothing there runs the wheels' code;
``venv-skeleton``
    the empty venv, copied into a staging root with fixed timestamps;
``layer-<name>``, ``layer-pure-<n>``, ``layer-native-<n>``
    the app's locked dependencies in the layers :mod:`containerize.image.layers`
    plans from the lock: each installed offline from the wheelhouse by pypa's
    installer into a staging root of its own (``/layer/opt/venv``), bytecode compiled
    there, with fixed timestamps, so that its content depends only on its packages'
    wheels. Layers of pure-Python wheels read the first platform's folder
    (``pure-wheels``) and name no target platform: built once for all of them;
``server-<server>``
    one server and what it adds, the same way: the last layer of the venv;
``check-layer-*``, ``check-server-*``, ``check-deps``, ``check-venv-<server>``
    the layers that are not pure again with the wheels of the plan's *check platform*
    (the target this machine runs natively, else the first target), stacked on the
    builder's venv, for the two stages below;
``app-<server>``
    the application with check-venv-<server>'s venv, on the check platform, imported
    once without network, as the app's user, so that a broken import fails the build;
    the same step then gathers the app with fixed timestamps, and the final image
    copies it from there (owned by root): the check always runs, leaves no layer
    behind, and a code change runs one step here, not two. The check stages name the
    check platform literally and declare no TARGET* argument: the same text for every
    target, so BuildKit runs each once. Their ``COPY`` has no ``--link``: these
    stages are never exported, and a linked copy costs a merge of every layer below
    it (seconds with the docker driver) each time the app changes;
``static``
    a static command other than Python running a script or a module, as root, once,
    with check-deps' venv, beside the import checks (a Python one runs in the first
    app stage's check process: :mod:`.checkedstatic`); images copy it after the app;
``users``
    on the build platform, the target base image's ``/etc/passwd`` and ``/etc/group``
    (read through a mount) with the app's user added, and its home;
``runtime``
    the base image plus the Debian packages the app's compiled wheels need and the
    project's declared run packages (:mod:`containerize.syspackages`), and the account
    files and home from ``users``;
``<server>``
    the final image: runtime OS packages, the venv's layers (skeleton, dependency
    layers in the plan's order, the server's), containerize's entrypoint and the
    server's settings, the application, its static files. Every layer is copied with
    ``COPY --link`` from a staging root whose folders carry the same fixed timestamp,
    so identical dependency layers have identical digests in every server's image.

The wheelhouse is bind-mounted from named build contexts (one per platform's folder,
``wheelhouse-linux-amd64``; the compile build has one for the whole), never copied into a layer,
and every install step runs with ``--network=none``. Dependency layers never depend
on application files, so a code change rebuilds only the last ``COPY``.

The image's Dockerfile installs wheels only. sdists are compiled before, by a second,
smaller Dockerfile (:func:`.compilefile.render_compile`) built on the target platform, whose wheels
the wheelhouse then holds with their own hashes.

Every value reaches the text through :mod:`containerize.image.escape`, in the form of
the language it lands in (Dockerfile word, exec-form JSON, shell word, Python literal);
a value no form can hold is a :class:`~containerize.errors.ConfigError`.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from containerize import __version__, reference, servers, testenv
from containerize.buildsteps.wheels import FIXED_EPOCH
from containerize.config import DEFAULT_EXCLUDES
from containerize.image import instructions, layerfolders, stagedfiles, writable
from containerize.image.checkedstatic import (
    CHECKED_STATIC_ROOT,
    checked_static_commands,
    checked_static_mount,
    static_in_check,
)
from containerize.image.escape import (
    dockerfile_key,
    dockerfile_stage,
    dockerfile_word,
    exec_form,
)
from containerize.image.plan import (
    APP_DIR,
    ENTRYPOINT,
    RUNTIME_CONTEXT,
    VENV,
    WHEELHOUSE_CONTEXT,
    BuildPlan,
    ServerStage,
)
from containerize.image.stagedfiles import HOME, USERS_ROOT
from containerize.runtime import HEALTH, IMAGE_DIR, IMPORT_VERDICT

#: What the dry run says of the compile build.
COMPILE_NOTE = "the sdists, compiled on their target platform"
SYSTEM_PACKAGES = "tool.containerize.system-packages"
#: Where a layer stage installs its packages: the files land in LAYER_ROOT/opt/venv,
#: and the image copies the folder's contents onto /.
LAYER_ROOT = "/layer"
#: Where the static stage puts the static folder, with its parents, for its layer.
STATIC_ROOT = "/static-layer"


def render(plan: BuildPlan) -> str:
    """The Dockerfile for *plan*; the same plan always renders the same text.

    Raises :class:`~containerize.errors.ConfigError` naming the setting a value came
    from when the value cannot be written safely.
    """
    lines = header(plan)
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
    lines += _layer_stages(plan)
    lines += _check_venv_stages(plan)
    lines += writable.stage(plan)  # before the import checks, which mount it
    if plan.import_check:
        for stage in plan.servers:
            lines += _app_stage(plan, stage)
    if plan.static and plan.static.command and not static_in_check(plan):
        lines += _static_stage(plan)
    lines += stagedfiles.users_stage(plan)
    lines += stagedfiles.files_stages(plan)
    lines += _runtime_stage(plan)
    for stage in plan.servers:
        lines += _final_stage(plan, stage)
    return "\n".join(lines).rstrip("\n") + "\n"


def header(plan: BuildPlan) -> list[str]:
    base = reference.parse(plan.base_image, where=instructions.BASE_IMAGE)
    return [
        f"# Generated by containerize {__version__}; edit [tool.containerize], not this file.",
        "# No '# syntax=' line on purpose: BuildKit's built-in Dockerfile frontend is used,",
        "# so a build never has to pull a frontend image.",
        "",
        f"ARG BASE_IMAGE={dockerfile_word(str(base), source=instructions.BASE_IMAGE)}",
        "",
    ]


def _layer_stages(plan: BuildPlan) -> list[str]:
    """The venv's layers, each made in a staging root of its own (:data:`LAYER_ROOT`):
    the skeleton, the dependency layers, then each server's own layer."""
    parent = str(PurePosixPath(VENV).parent)
    make_root = ["mkdir", "-p", LAYER_ROOT + parent]
    copy_venv = ["cp", "-a", VENV, f"{LAYER_ROOT}{parent}/"]
    when = f"--date=@{FIXED_EPOCH}"
    fix_times = ["find", LAYER_ROOT, "-exec", "touch", "--no-dereference", when, "{}", "+"]
    lines = [
        "# venv-skeleton: the empty venv (pyvenv.cfg, bin/python), the first layer of the",
        "# venv in every image, with fixed timestamps: the same bytes on every build.",
        "FROM builder AS venv-skeleton",
        instructions.run([make_root, copy_venv, fix_times], network=False),
        "",
    ]
    if any(layer.pure for layer in plan.layers.layers) or any(s.pure for s in plan.servers):
        first = plan.platforms[0]
        lines += [
            f"# pure-wheels: the wheelhouse of {first}: its pure-Python wheels (none-any) are",
            "# the very files every platform installs, so the layers made of them name no",
            "# target platform, are built once for all of them and have one digest.",
            f"FROM {dockerfile_stage(f'{WHEELHOUSE_CONTEXT}-{first.slug}')} AS pure-wheels",
            "",
        ]
    if plan.layers.layers:
        assert plan.base_manifest is not None
        lines += [
            "# layer-*: the app's dependencies in layers planned from the lock (see",
            "# 'containerize build --dry-run'): each layer's wheels, in a folder of their own",
            f"# in the wheelhouse, installed offline into {LAYER_ROOT} alone, bytecode compiled",
            "# there, with fixed timestamps: a layer is rebuilt, and changes, only when its own",
            "# packages do. Layers of pure wheels read pure-wheels; the others the target's.",
        ]
        for layer in plan.layers.layers:
            lines += _layer_stage(plan, layer.name, pure=layer.pure)
    for stage in plan.servers:
        name = _stage_name(stage)
        lines.append(f"# server-{name}: {name} and what it adds, the last layer of its venv.")
        lines += _server_stage(plan, stage, prefix="")
    return lines


def _layer_stage(
    plan: BuildPlan, name: str, *, pure: bool, prefix: str = "", source: str | None = None
) -> list[str]:
    """The stage *prefix* + *name*: the wheels of its folder of the wheelhouse
    (:mod:`containerize.image.layerfolders`) installed into :data:`LAYER_ROOT`."""
    wheels = "pure-wheels" if pure else f"{prefix}wheels"
    return [
        f"FROM builder AS {dockerfile_stage(prefix + name)}",
        instructions.install(
            plan,
            VENV,
            layerfolders.MANIFEST,
            source=source or "the app's requirements",
            wheels=wheels,
            folder=layerfolders.folder_of(name),
            root=LAYER_ROOT,
        ),
        "",
    ]


def _server_stage(plan: BuildPlan, stage: ServerStage, *, prefix: str) -> list[str]:
    name = _stage_name(stage)
    source = f"the {name} server's requirements"
    return _layer_stage(plan, "server-" + name, pure=stage.pure, prefix=prefix, source=source)


def _dependency_copies(plan: BuildPlan, *, check: bool) -> list[str]:
    """The COPY lines that stack the dependency layers in the plan's order; in a check
    stage (*check*), from the check platform's stages where a layer is not pure."""
    return [_layer_copy(layer.name, check=check and not layer.pure) for layer in plan.layers.layers]


def _layer_copy(stage: str, *, check: bool = False) -> str:
    """Copy the staging root of the layer stage *stage* (``check-`` + it when *check*).

    Linked, in the check stages too: the layers are stacked by BuildKit's merge
    rather than by copying every file onto the builder's venv (a plain copy of
    Django's layer took 0.7-6 s on a cold build); the merged venv is made where a
    step first runs on it (1.5-1.8 s measured under the first check venv), once.
    """
    source = dockerfile_stage(("check-" if check else "") + stage)
    return f"COPY --link --from={source} {dockerfile_word(LAYER_ROOT + '/')} /"


def _static_stage(plan: BuildPlan) -> list[str]:
    """The static files, made by the project's command from the app and its
    dependencies (no server needed), once, beside the import checks; then copied into
    each image."""
    return [
        "# static: the static files, made by the project's command from the app and its",
        f"# dependencies (no server needed), once, on {plan.check_platform}; then copied",
        "# into each image.",
        *_check_from(plan, "check-deps", "static"),
        _env(plan),
        f"WORKDIR {_app_dir(plan)}",
        f"COPY app/ {_app_dir(plan, '/')}",
        _static_run(plan),
        "",
    ]


def _static_run(plan: BuildPlan) -> str:
    """The project's static command, offline, then its folder made if the command made
    none: one that finds nothing to copy (Django's collectstatic with no app that ships
    static files) leaves no folder, and an empty one serves nothing, which is right.

    The folder is then copied, under its own path, into :data:`STATIC_ROOT` with fixed
    timestamps: the layer the images copy from there is the same bytes whenever the
    files are, so a code change that leaves them alone pushes no static layer."""
    assert plan.static is not None
    assert plan.static.command
    folder = f"{plan.app_dir}/{plan.static.dir}"
    parent = str(PurePosixPath(folder).parent)
    when = f"--date=@{FIXED_EPOCH}"
    return _with_test_env(
        plan,
        instructions.run(
            [
                plan.static.command,
                ["mkdir", "-p", folder, f"{STATIC_ROOT}{parent}"],
                ["cp", "-a", folder, f"{STATIC_ROOT}{parent}/"],
                ["find", STATIC_ROOT, "-exec", "touch", "--no-dereference", when, "{}", "+"],
            ],
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
    sourced = f"{prefix}. {testenv.MOUNT_PATH} \\\n && {run[len(prefix) :]}"
    return instructions.with_mounts(sourced, [mount])


def _env(plan: BuildPlan) -> str:
    """The ENV instruction every stage that runs the app shares: the venv first on PATH,
    Python's settings, then the project's ``env`` table."""
    env = [
        ("PATH", f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ("VIRTUAL_ENV", VENV),
        ("HOME", HOME),
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
                instructions.apt_install(plan.runtime_packages, source=SYSTEM_PACKAGES),
            ]
            if plan.runtime_packages
            else []
        ),
        # One staging root with fixed timestamps, onto /: no parent folder is made with
        # the build's date, so the layer is the same bytes on every build.
        f"COPY --link --from=users {USERS_ROOT}/ /",
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
    lines += [
        "# The venv in layers: skeleton, dependencies (the same in every server's image),",
        f"# then {name}'s own packages.",
        _layer_copy("venv-skeleton"),
        *_dependency_copies(plan, check=False),
        _layer_copy("server-" + name),
        # containerize's files, then the app's, each from a files stage: fixed dates.
        _files_copy("files-runtime"),
        _files_copy("files-" + name),
        _app_copy(plan, name),
        *_static_files(plan),
        *writable.copy(plan),
    ]
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
    """The app on top of the server's venv, imported once as the server will import
    it; in the same step, once the import succeeded, the app gathered for the image
    (:func:`.stagedfiles.checked_app_commands`): the image copies the app from here, so
    only an app that imported reaches it, and a code change runs one step, not two."""
    name = _stage_name(stage)
    image_dir = dockerfile_word(IMAGE_DIR + "/")
    check = [f"{VENV}/bin/python", f"{IMAGE_DIR}/containerize_wsgi.py", "--check", "--verdict"]
    check.append(stagedfiles.CHECKED_APP_ROOT + IMPORT_VERDICT)  # the image gets it with the app
    # The server's own entry module too: a server the lock pins that cannot import fails here.
    server = servers.get(stage.name)
    check += ["--server-module", server.entry_module, "--server", str(server.distribution)]
    static = plan.static is not None and bool(plan.static.command)
    # The first server's check runs the static command, when it can, in its process.
    then = static_in_check(plan) and stage == plan.servers[0]
    commands = [check]
    if then:
        assert plan.static is not None
        check += ["--then", *plan.static.command]
        commands += checked_static_commands(plan)
    run = instructions.run(
        [*commands, *stagedfiles.checked_app_commands(plan.app_dir, f"{VENV}/bin/python")],
        network=False,
        source="tool.containerize.app-directory",
    )
    if then:
        comment = [
            "# the build; then, in the same process, the static command (as the app's user,",
            "# its folder writable); then, in the same step, the app and the static files",
            "# gathered with fixed timestamps for the images.",
            f"# It runs on {plan.check_platform}, once for every target platform.",
        ]
    else:
        comment = [
            "# the build; then, in the same step, gathered with fixed timestamps for the image.",
            f"# It runs on {plan.check_platform}, once for every target platform"
            + (
                ", beside the static stage (BuildKit runs the two at once)."
                if static and not static_in_check(plan)
                else "."
            ),
        ]
    mounts = [stagedfiles.checked_app_mount()]
    if then:
        mounts.append(checked_static_mount(plan))
    return [
        f"# app-{name}: the app with {name}'s venv and the project's environment, offline:",
        "# the app imported as the app's user, so that an app that fails to import fails",
        *comment,
        *_check_from(plan, dockerfile_stage("check-venv-" + name), dockerfile_stage("app-" + name)),
        f"COPY {RUNTIME_CONTEXT}/ {image_dir}",
        f"COPY {dockerfile_word(stage.context_dir + '/')} {image_dir}",
        # Before the app: on a code change, the steps that follow its copy are all that
        # runs, and a WORKDIR of its own costs a step.
        _env(plan),
        f"WORKDIR {_app_dir(plan)}",
        f"COPY app/ {_app_dir(plan, '/')}",
        f"USER {_user(plan.uid, plan.gid)}",
        writable.check_mounts(
            plan,
            instructions.with_mounts(_with_test_env(plan, run), mounts),
        ),
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
                plan.runtime_packages, source=SYSTEM_PACKAGES, arch=plan.check_platform.arch
            ),
            "",
        ]
        if plan.runtime_packages
        else []
    )
    lines = [
        "# check-wheels, check-layer-*, check-server-*: the layers that are not pure, again",
        f"# with the wheels of {plan.check_platform}, the platform the import check and the",
        "# static command run on; check-deps and check-venv-<server> stack them on the",
        "# builder's venv.",
        f"FROM {dockerfile_stage(context)} AS check-wheels",
        "",
    ]
    for layer in plan.layers.layers:
        if not layer.pure:
            lines += _layer_stage(plan, layer.name, pure=False, prefix="check-")
    lines.append("FROM builder AS check-deps")
    lines += _dependency_copies(plan, check=True)
    lines.append("")
    for stage in plan.servers if plan.import_check else ():
        name = _stage_name(stage)
        if not stage.pure:
            lines += _server_stage(plan, stage, prefix="check-")
        lines += [
            f"FROM check-deps AS {dockerfile_stage('check-venv-' + name)}",
            _layer_copy("server-" + name, check=not stage.pure),
            "",
        ]
    return lines + runtime


def _files_copy(stage: str) -> str:
    """Copy the files stage *stage*'s root onto /."""
    root = dockerfile_word(instructions.FILES_ROOT + "/")
    return f"COPY --link --from={dockerfile_stage(stage)} {root} /"


def _app_copy(plan: BuildPlan, name: str) -> str:
    """Copy the app: from the step that imported it (gathered there by the app's user,
    owned by root here, like every file of the image) or, without the check, from its
    files stage."""
    if not plan.import_check:
        return _files_copy("app-files-" + name)
    root = dockerfile_word(stagedfiles.CHECKED_APP_ROOT + "/")
    return f"COPY --link --chown=0:0 --from={dockerfile_stage('app-' + name)} {root} /"


def _static_files(plan: BuildPlan) -> list[str]:
    """The static files the static command made, from its stage (none without one)."""
    if not (plan.static and plan.static.command):
        return []
    if static_in_check(plan):
        checked = dockerfile_stage("app-" + _stage_name(plan.servers[0]))
        root = dockerfile_word(CHECKED_STATIC_ROOT + "/")
        return [f"COPY --link --chown=0:0 --from={checked} {root} /"]
    # From the staging root, onto /: no parent folder is made with the build's date.
    return [f"COPY --link --from=static {dockerfile_word(STATIC_ROOT + '/')} /"]


def _app_dir(plan: BuildPlan, suffix: str = "") -> str:
    """The app folder in the image (``/app``, or ``/app/site`` for app-directory 'site')."""
    return dockerfile_word(plan.app_dir + suffix, source="tool.containerize.app-directory")


def _stage_name(stage: ServerStage) -> str:
    return dockerfile_stage(stage.name, source="tool.containerize.servers")


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
