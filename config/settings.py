"""Sendwatch settings, all read from the environment (see README "Configuration").

With nothing set, Sendwatch runs on the embedded default: a SQLite file and a
filesystem Celery broker under the git-ignored ``var/`` folder, with generated
local secrets. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY and
SENDWATCH_CREDENTIAL_KEYS.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_int, env_list, env_str, local_secret, new_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SENDWATCH_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("SENDWATCH_REQUIRE_SECRETS", False):
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    SECRET_KEY = local_secret(VAR_DIR / "secret-key", new_secret_key)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "messaging.vault.sessions.IdleSessionMiddleware",
    "messaging.dashboard.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes documents: turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

# models.W040: SQLite (the embedded default) builds send_recipient_key_idx without its INCLUDE
# columns; they only make PostgreSQL's search an index-only scan (docs/data-model.md).
SILENCED_SYSTEM_CHECKS = ["models.W040"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # The dashboard's filters (sw_datetime, days_ago, fixed) in every template without {% load %}.
            "builtins": ["messaging.templatetags.sendwatch"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# -- database -------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'sendwatch.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web process and the Celery worker share one file: WAL lets readers
    # run beside a writer, IMMEDIATE avoids upgrade deadlocks, and the timeout
    # waits out short write locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so a worker process in the integration tests sees the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-sendwatch.sqlite3")}
else:
    # The dashboard's queries are short index scans: JIT compiling one costs more than it saves
    # (1.3 s of 2.8 s on a 10 M-row aggregate, docs/performance.md).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DATABASE_VENDOR = "postgresql" if "postgresql" in DATABASES["default"]["ENGINE"] else "sqlite"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- auth and sessions ------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 60 * 60)
# The age above is an idle timeout: messaging.vault.sessions renews a session at most once per
# SENDWATCH_SESSION_RENEW_SECONDS (SESSION_SAVE_EVERY_REQUEST would write it on every request).
SESSION_SAVE_EVERY_REQUEST = False
SENDWATCH_SESSION_RENEW_SECONDS = env_int("SENDWATCH_SESSION_RENEW_SECONDS", 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Brute-force protection (django-axes), docs/security.md "Logins". Within the cool-off:
# - 5 failures of one username from one IP lock that pair out;
# - 20 failures from one IP, whatever the usernames, lock that IP out (password spraying).
#   Each username counts at most its own limit, so one user hammering a wrong password
#   cannot lock out everyone behind the same address. 0 turns the per-IP limit off.
# The re-authentication prompt counts too. Axes compares one number against one limit,
# so AXES_FAILURE_LIMIT is a callable: the pair's limit, or 0 (locked) once the IP is over its own.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
SENDWATCH_LOGIN_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
SENDWATCH_LOGIN_IP_FAILURE_LIMIT = env_int("AXES_IP_FAILURE_LIMIT", 20)


def _login_failure_limit(request, credentials=None) -> int:
    """AXES_FAILURE_LIMIT: the username + IP limit, or 0 once the client's IP has reached its own limit.

    Axes counts the failures of the username + IP pair (AXES_LOCKOUT_PARAMETERS) and locks
    when that count reaches this number; 0 therefore locks every username from the IP.
    """
    from django.conf import settings as live  # read at call time: tests and overrides apply

    pair_limit = live.SENDWATCH_LOGIN_FAILURE_LIMIT
    ip_limit = live.SENDWATCH_LOGIN_IP_FAILURE_LIMIT
    ip_address = getattr(request, "axes_ip_address", None)
    if ip_limit <= 0 or not ip_address:
        return pair_limit
    from axes.attempts import get_cool_off_threshold
    from axes.models import AccessAttempt

    failures = AccessAttempt.objects.filter(
        ip_address=ip_address, attempt_time__gte=get_cool_off_threshold(request)
    ).values_list("username", "failures_since_start")
    per_username: dict[str | None, int] = {}
    for username, count in failures:
        per_username[username] = per_username.get(username, 0) + count
    counted = sum(min(count, pair_limit) for count in per_username.values())
    return 0 if counted >= ip_limit else pair_limit


AXES_FAILURE_LIMIT = _login_failure_limit
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# Only the pair: with "ip_address" here too, a successful login from an address would wipe
# every username's failures from it (AXES_RESET_ON_SUCCESS), letting one valid account
# reset a spraying attack. The per-IP limit above sums the pair records instead.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password", "key", "secret"]
# "Sudo mode": key actions need the password re-entered within this many seconds.
SENDWATCH_REAUTH_SECONDS = env_int("SENDWATCH_REAUTH_SECONDS", 5 * 60)

# -- i18n and time ---------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# -- static files ------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# -- security headers ----------------------------------------------------------------

SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts and styles come from our own static files only; no inline code.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# -- email ---------------------------------------------------------------------------

# Django 6.1's MAILERS; the environment names are the familiar EMAIL_* ones.
EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": (
            {
                "host": env_str("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 25),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "timeout": env_int("EMAIL_TIMEOUT", 10),
            }
            if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Sendwatch <sendwatch@localhost>")

# -- Celery -----------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
BROKER_VENDOR = CELERY_BROKER_URL.split("://", 1)[0]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Retired API keys are revoked once their grace period ends.
    "revoke-expired-credentials": {"task": "messaging.tasks.revoke_expired_credentials", "schedule": 300.0},
    # Keys older than SENDWATCH_CREDENTIAL_MAX_AGE_DAYS raise a credential_age alert.
    "check-credential-age": {"task": "messaging.tasks.check_credential_age", "schedule": 24 * 3600.0},
    # Re-dispatch queued sends whose task was lost; settle claims of dead workers.
    "sweep-outbox": {"task": "messaging.tasks.sweep_outbox", "schedule": 30.0},
    # Balance polls: each provider at most every poll_interval_seconds (docs/alerts.md).
    "poll-due-providers": {"task": "messaging.tasks.poll_due_providers", "schedule": 60.0},
    "evaluate-spikes": {"task": "messaging.tasks.evaluate_spikes", "schedule": 60.0},
    # Alert emails and webhooks that are due (new ones are also sent on commit; this retries).
    "deliver-notifications": {"task": "messaging.tasks.deliver_notifications", "schedule": 30.0},
}
if BROKER_VENDOR == "filesystem":
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.5,
    }
else:
    # Longer than the longest countdown a task uses; long waits live in the
    # database (Send.next_attempt_at), never as broker ETAs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# -- Sendwatch ---------------------------------------------------------------------------


def _credential_keys() -> tuple[list[str], bool]:
    """The credential-encryption key ring, newest first, as ``key_id:fernet_key`` items; and whether it is local.

    Read leniently: the items are not parsed here, so a malformed ring does not stop
    settings from loading; the system checks in messaging/vault/checks.py report it
    (sendwatch.E001-E003), and the vault refuses to use it.
    """
    ring = env_list("SENDWATCH_CREDENTIAL_KEYS")
    if ring:
        return ring, False
    if not DEBUG and env_bool("SENDWATCH_REQUIRE_SECRETS", False):
        raise ImproperlyConfigured("SENDWATCH_CREDENTIAL_KEYS must be set in production")
    # The embedded default: a key kept in a git-ignored file. Without DEBUG, `check --deploy` reports
    # it (sendwatch.E004) unless SENDWATCH_LOCAL_KEYS=1 says a local key file is intended.
    return [local_secret(VAR_DIR / "credential-keys", lambda: "local1:" + Fernet.generate_key().decode())], True


SENDWATCH_CREDENTIAL_KEYS, SENDWATCH_CREDENTIAL_KEYS_FROM_FILE = _credential_keys()
# A local key file (var/credential-keys) is intended even without DEBUG (a single-machine install).
SENDWATCH_LOCAL_KEYS = env_bool("SENDWATCH_LOCAL_KEYS", False)
# API keys older than this many days are flagged and raise a credential_age alert.
SENDWATCH_CREDENTIAL_MAX_AGE_DAYS = env_int("SENDWATCH_CREDENTIAL_MAX_AGE_DAYS", 90)
# Vendor HTTP timeouts in seconds: connect, then read.
SENDWATCH_VENDOR_TIMEOUT = (
    float(env_str("SENDWATCH_VENDOR_CONNECT_TIMEOUT", "3.05")),
    float(env_str("SENDWATCH_VENDOR_READ_TIMEOUT", "15")),
)
# Sending: attempts per send, and when the outbox sweeper steps in.
SENDWATCH_SEND_MAX_ATTEMPTS = env_int("SENDWATCH_SEND_MAX_ATTEMPTS", 5)
SENDWATCH_LOST_TASK_GRACE_SECONDS = env_int("SENDWATCH_LOST_TASK_GRACE_SECONDS", 60)
SENDWATCH_STALE_CLAIM_SECONDS = env_int("SENDWATCH_STALE_CLAIM_SECONDS", 120)
SENDWATCH_BREAKER_THRESHOLD = env_int("SENDWATCH_BREAKER_THRESHOLD", 5)
SENDWATCH_BREAKER_COOL_DOWN_SECONDS = env_int("SENDWATCH_BREAKER_COOL_DOWN_SECONDS", 60)
# Outbound requests (vendor calls, webhooks) only go to public internet addresses; these hosts
# (names or IPs, as written in the URL; comma-separated) may also reach private and loopback ones.
# Cloud metadata addresses stay refused. bin/run allows 127.0.0.1 for the demo's simulator.
SENDWATCH_ALLOW_PRIVATE_HOSTS = env_list("SENDWATCH_ALLOW_PRIVATE_HOSTS")
# The country a phone number typed without +country code is read in (ISO 3166 code): recipient
# search and the send API (messaging/traffic/numbers.py).
SENDWATCH_PHONE_REGION = env_str("SENDWATCH_PHONE_REGION", "US").upper()
# Where the built-in vendor simulator is mounted (the demo's providers point there).
SENDWATCH_SIMULATOR_ENABLED = env_bool("SENDWATCH_SIMULATOR", DEBUG)
# Alerts and balances (docs/alerts.md). Links in alert emails and webhooks start with this URL.
SENDWATCH_BASE_URL = env_str("SENDWATCH_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Hysteresis: a balance alert clears only this many percent past its threshold (warning x 1.10).
SENDWATCH_ALERT_HYSTERESIS_PERCENT = env_int("SENDWATCH_ALERT_HYSTERESIS_PERCENT", 10)
# A critical alert eases to warning only after the lower severity held this long.
SENDWATCH_ALERT_EASE_AFTER_SECONDS = env_int("SENDWATCH_ALERT_EASE_AFTER_SECONDS", 600)
# Consecutive failed balance polls (network, timeout, 5xx) before "unreachable" opens; twice this is critical.
SENDWATCH_UNREACHABLE_AFTER_FAILED_POLLS = env_int("SENDWATCH_UNREACHABLE_AFTER_FAILED_POLLS", 3)
# Runway: the history read for the burn rate, and the least span of it that gives a rate at all.
SENDWATCH_RUNWAY_WINDOW_HOURS = env_int("SENDWATCH_RUNWAY_WINDOW_HOURS", 72)
SENDWATCH_RUNWAY_MIN_SPAN_MINUTES = env_int("SENDWATCH_RUNWAY_MIN_SPAN_MINUTES", 60)
# Spikes: the baseline rate is taken as at least this (percent), so a spotless week cannot page on 1 error.
SENDWATCH_SPIKE_BASELINE_FLOOR_PERCENT = float(env_str("SENDWATCH_SPIKE_BASELINE_FLOOR_PERCENT", "1"))
# A spike is critical at this many times the provider's error-rate ceiling.
SENDWATCH_SPIKE_CRITICAL_FACTOR = float(env_str("SENDWATCH_SPIKE_CRITICAL_FACTOR", "2"))
# Notifications: attempts before a notification is marked failed, and the webhook timeout.
SENDWATCH_NOTIFY_MAX_ATTEMPTS = env_int("SENDWATCH_NOTIFY_MAX_ATTEMPTS", 6)
SENDWATCH_WEBHOOK_TIMEOUT_SECONDS = float(env_str("SENDWATCH_WEBHOOK_TIMEOUT_SECONDS", "5"))

# -- cache and API rate limits ------------------------------------------------------------
# The cache holds the API's rate-limit counters (messaging/vault/ratelimit.py), so it must be
# shared by every web worker: Redis in production (CACHE_URL=redis://host:6379/1). The embedded
# default is a file cache under var/cache, shared by the processes of one machine; its incr is
# not atomic, so the limiter serialises its updates with a file lock (docs/decisions.md).
# file:///abs/path picks another folder; locmem:// is per process (a single-process setup only).


def _cache_from_url(url: str) -> dict:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not url:
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Old windows' counters linger until culled; culling drops a third at random.
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    if scheme in ("redis", "rediss", "unix"):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if scheme == "file" and url[len("file://") :].startswith("/"):
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": url[len("file://") :],
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    shown = url.split("@")[-1]  # never a password
    raise ImproperlyConfigured(
        f"CACHE_URL must be redis://, rediss://, unix://, file:///abs/path or locmem://: {shown!r}"
    )


def _env_float(name: str, default: float) -> float:
    raw = env_str(name).strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


CACHES = {"default": _cache_from_url(env_str("CACHE_URL").strip())}
# Per API token: SENDWATCH_API_BURST requests in any BURST / RATE seconds (2 s at the defaults),
# so RATE per second sustained; past it, 429 with Retry-After. 0 turns the limit off.
SENDWATCH_API_RATE = _env_float("SENDWATCH_API_RATE", 50.0)
SENDWATCH_API_BURST = env_int("SENDWATCH_API_BURST", 100)
# Failed token attempts (missing, malformed, unknown, revoked) per client address (REMOTE_ADDR):
# past this many in the window every request from it is 429 until the window slides by. 0: off.
SENDWATCH_API_AUTH_FAILURE_LIMIT = env_int("SENDWATCH_API_AUTH_FAILURE_LIMIT", 20)
SENDWATCH_API_AUTH_FAILURE_WINDOW_SECONDS = env_int("SENDWATCH_API_AUTH_FAILURE_WINDOW_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"forbidden_in_one_line": {"()": "messaging.dashboard.logfilters.ForbiddenInOneLine"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["forbidden_in_one_line"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # axes logs its version at INFO on every start, which buries management commands' output.
    "loggers": {"urllib3": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}
