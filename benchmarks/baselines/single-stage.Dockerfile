# The single-stage Dockerfile users copy today: the project copied in, then
# `pip install -r requirements.txt`. Any change to the project invalidates the install.
#
# Build secrets, never written into a layer:
#   ca      the machine's CA bundle (--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
#   pipconf a pip.conf naming the package index the user's pip is configured with
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

RUN useradd --uid 10001 --user-group --create-home app
RUN python3 -m venv /opt/venv
WORKDIR /app
COPY . .
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=secret,id=pipconf,target=/run/secrets/pip.conf \
    PIP_CERT=/run/secrets/ca PIP_CONFIG_FILE=/run/secrets/pip.conf \
    /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements.txt
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1
RUN python manage.py collectstatic --noinput

USER app
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--error-logfile", "-", \
     "--worker-tmp-dir", "/dev/shm", "site_config.wsgi:application"]
