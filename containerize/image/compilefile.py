"""The compile build's Dockerfile: the sdists (the project's own local packages among
them) built into wheels on their target platforms, offline, exported to the wheelhouse
before the image build (:mod:`containerize.image.compile` runs it; the image's
Dockerfile is :mod:`containerize.image.dockerfile`'s)."""

from __future__ import annotations

from containerize.buildsteps import MOUNT_DIR
from containerize.image import dockerfile, instructions
from containerize.image.escape import dockerfile_word, shell_command, shell_word
from containerize.image.plan import BUILD_ENV, COMPILE_TARGET, BuildPlan

# Where the compile step writes its wheels, and what the base image has installed.
_COMPILED = "/wheels"
_BASE_PACKAGES = "/opt/containerize-base-packages.txt"


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
    lines = dockerfile.header(plan)
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
        lines.append(
            instructions.apt_install(plan.compile_packages, source=dockerfile.SYSTEM_PACKAGES)
        )
    lines += [
        f"COPY --link --from=build-env {dockerfile_word(BUILD_ENV)} {dockerfile_word(BUILD_ENV)}",
        f"RUN --network=none {instructions.mounts()} \\\n    " + shell_command(build),
        "",
        "# wheels: the compiled wheels alone, exported to the wheelhouse.",
        f"FROM scratch AS {COMPILE_TARGET}",
        f"COPY --link --from=compile {dockerfile_word(_COMPILED + '/')} /",
    ]
    return "\n".join(lines) + "\n"
