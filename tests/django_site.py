"""A real Django 5.2 project under tmp_path, driven by subprocesses as its user would.

startproject-shaped: ``manage.py``, ``mysite/settings.py`` (the admin, WhiteNoise's
middleware, DEBUG=False), two apps (``shop`` declared by its AppConfig path,
``blog`` by its module name) with ``static/`` and ``{% static %}`` templates,
STATICFILES_DIRS with a plain and a prefixed entry, and a custom
StaticFilesConfig whose ``ignore_patterns`` add ``*.scss``. The environment picks
STATIC_ROOT (``SITE_STATIC_ROOT``), the staticfiles storage (``SITE_STORAGE``) and
whether ``staticpipe.django`` is installed (``SITE_STATICPIPE_APP=1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DJANGO_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
STATICPIPE_STORAGE = "staticpipe.django.storage.ManifestStaticFilesStorage"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(32))

SETTINGS = """\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-insecure-staticpipe-tests"
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    *(["staticpipe.django"] if os.environ.get("SITE_STATICPIPE_APP") else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "mysite.apps.SiteStaticFilesConfig",
    "shop.apps.ShopConfig",
    "blog",
{extra_apps}]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
}
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("SITE_STATIC_ROOT", BASE_DIR / "staticfiles")
STATICFILES_DIRS = [
    BASE_DIR / "assets",
    ("vendor", str(BASE_DIR / "third_party")),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": os.environ.get(
            "SITE_STORAGE", "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        ),
    },
}
"""

MANAGE = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

URLS = """\
from django.contrib import admin
from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="shop/index.html")),
    path("blog/", TemplateView.as_view(template_name="blog/index.html")),
    path("admin/", admin.site.urls),
]
"""

SITE_APPS = """\
from django.contrib.staticfiles.apps import StaticFilesConfig


class SiteStaticFilesConfig(StaticFilesConfig):
    ignore_patterns = ["CVS", ".*", "*~", "*.scss"]
"""

PAGE = """\
{{% load static %}}<!doctype html>
<html><head>
<link rel="stylesheet" href="{{% static 'css/site.css' %}}">
<link rel="stylesheet" href="{{% static '{app}/css/{app}.css' %}}">
<script src="{{% static 'vendor/lib.js' %}}"></script>
</head><body><img src="{{% static '{app}/img/logo.png' %}}" alt="">{app}</body></html>
"""

FILES = {
    "mysite/__init__.py": "",
    "mysite/urls.py": URLS,
    "mysite/apps.py": SITE_APPS,
    "mysite/wsgi.py": (
        "import os\nfrom django.core.wsgi import get_wsgi_application\n"
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n'
        "application = get_wsgi_application()\n"
    ),
    "shop/__init__.py": "",
    "shop/apps.py": (
        "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n"
        '    name = "shop"\n    label = "store"\n'
    ),
    "shop/static/shop/css/shop.css": (
        '@import "../../css/base.css";\n.logo { background: url("../img/logo.png"); }\n'
        ".v { background: url(/static/vendor/lib.css); }\n"
    ),
    "shop/static/shop/img/logo.png": PNG + b"shop",
    "shop/templates/shop/index.html": PAGE.format(app="shop"),
    "blog/__init__.py": "",
    "blog/static/blog/css/blog.css": ".b { background: url(../img/logo.png) }\n",
    "blog/static/blog/img/logo.png": PNG + b"blog",
    "blog/templates/blog/index.html": PAGE.format(app="blog"),
    "assets/css/site.css": "body { background: url(../img/bg.png) }\n",
    "assets/css/base.css": "html { color: #333 }\n",
    "assets/css/theme.scss": "$c: red;\n",
    "assets/img/bg.png": PNG + b"bg",
    "third_party/lib.js": "console.log('lib');\n//# sourceMappingURL=lib.js.map\n",
    "third_party/lib.js.map": '{"version": 3}\n',
    "third_party/lib.css": "i { color: blue }\n",
}

NEW_APP = {
    "news/__init__.py": "",
    "news/static/news/css/news.css": ".n { background: url(../img/n.png) }\n",
    "news/static/news/img/n.png": PNG + b"news",
}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


class Site:
    def __init__(self, path: Path, extra_apps: tuple[str, ...] = ()):
        self.path = path
        self.write(FILES)
        self.write({"manage.py": MANAGE})
        self.set_apps(extra_apps)

    @property
    def root(self) -> Path:
        return self.path / "staticfiles"

    def write(self, files: dict[str, str | bytes]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def set_apps(self, extra_apps: tuple[str, ...]) -> None:
        lines = "".join(f'    "{app}",\n' for app in extra_apps)
        self.write({"mysite/settings.py": SETTINGS.replace("{extra_apps}", lines)})

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SITE_", "DJANGO_"))}
        env.pop("STATICPIPE_CONFIG", None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra)
        return env

    def run(self, *args: str, check: bool = True, cwd: Path | None = None, **env: str) -> Run:
        proc = subprocess.run(
            [sys.executable, *args],
            cwd=cwd or self.path,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} failed:\n{proc.stdout}\n{proc.stderr}")
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def manage(self, *args: str, check: bool = True, **env: str) -> Run:
        return self.run("manage.py", *args, check=check, **env)

    def staticpipe(self, *args: str, check: bool = True, **env: str) -> Run:
        return self.run("-m", "staticpipe", *args, check=check, **env)

    def django_build(self, root: Path) -> Path:
        """Django's own collectstatic (ManifestStaticFilesStorage) into ``root``."""
        self.manage("collectstatic", "--noinput", "-v", "0", SITE_STATIC_ROOT=str(root))
        return root

    def pages(self, **env: str) -> dict[str, object]:
        """Each page through the test client (DEBUG=False, WhiteNoise's middleware):
        its status, the static URLs it names and each URL's status and bytes."""
        script = f"""
import json, re, sys
import django
django.setup()
from django.test import Client
client = Client()
result = {{}}
for page in {["/", "/blog/", "/admin/login/"]!r}:
    response = client.get(page)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', response.content.decode())
    files = {{}}
    for url in urls:
        served = client.get(url)
        body = b"".join(served.streaming_content) if served.streaming else served.content
        files[url] = [served.status_code, body.decode("latin-1")]
    result[page] = {{"status": response.status_code, "files": files}}
json.dump(result, sys.stdout)
"""
        out = self.run("-c", script, DJANGO_SETTINGS_MODULE="mysite.settings", **env)
        return json.loads(out.stdout)
