"""Settings for the bench project, read from the environment where deployments differ.

DATABASE_URL  the database (default: SQLite in /tmp, writable by any user)
SECRET_KEY    the signing key (default: a random one per process)
ALLOWED_HOSTS comma-separated host names (default: any)
"""

import os
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

# Nothing this site signs outlives a process (no sessions): a random key is safe.
SECRET_KEY = os.environ.get("SECRET_KEY") or get_random_secret_key()
DEBUG = False
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]

INSTALLED_APPS = ["django.contrib.staticfiles", "gallery"]

# WhiteNoise serves the static files in the hand-written images; containerize's
# Gunicorn image wraps the application in it as well, so both serve them the same way.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "site_config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

WSGI_APPLICATION = "site_config.wsgi.application"

DATABASES = {"default": dj_database_url.config(default="sqlite:////tmp/bench-gallery.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
