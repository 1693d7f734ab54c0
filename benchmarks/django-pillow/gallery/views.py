"""A page rendered from a template, a thumbnail drawn by Pillow, a health check."""

import io
from datetime import UTC, datetime

from dateutil.relativedelta import relativedelta
from django.http import HttpResponse
from django.shortcuts import render
from PIL import Image, ImageDraw

LAUNCH = datetime(2024, 1, 1, tzinfo=UTC)


def index(request):
    age = relativedelta(datetime.now(UTC), LAUNCH)
    return render(request, "gallery/index.html", {"years": age.years, "months": age.months})


def health(request):
    return HttpResponse("ok", content_type="text/plain")


def thumbnail(request):
    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((8, 8, 56, 56), fill="teal")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return HttpResponse(out.getvalue(), content_type="image/png")
