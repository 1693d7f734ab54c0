# The multi-stage Dockerfile users copy today: a builder stage installs the lock into
# a virtual environment with pip's cache on a BuildKit cache mount; the runtime stage
# copies the venv, then the project. A code change reuses the venv layer.
#
# Build secrets, never written into a layer:
#   ca      the machine's CA bundle (--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
#   pipconf a pip.conf naming the package index the user's pip is configured with
# PIP_CACHE_ID names the cache mount, so a cold build can start from an empty one.
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS builder
ARG PIP_CACHE_ID=pip
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=cache,id=${PIP_CACHE_ID},target=/root/.cache/pip \
    --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=secret,id=pipconf,target=/run/secrets/pip.conf \
    PIP_CERT=/run/secrets/ca PIP_CONFIG_FILE=/run/secrets/pip.conf \
    /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.txt

FROM ${BASE_IMAGE}
RUN useradd --uid 10001 --user-group --create-home app
COPY --from=builder /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1
WORKDIR /app
COPY . .
RUN python manage.py collectstatic --noinput

USER app
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--error-logfile", "-", \
     "--worker-tmp-dir", "/dev/shm", "site_config.wsgi:application"]
