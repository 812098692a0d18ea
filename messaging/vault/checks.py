"""System checks of the master key ring (SENDWATCH_CREDENTIAL_KEYS). docs/security.md, "Master key ring checks".

- ``sendwatch.E001`` an item is not ``key_id:fernet_key`` (or its id is empty, too long or has spaces);
- ``sendwatch.E002`` an item's key is not a Fernet key;
- ``sendwatch.E003`` a key id appears twice;
- ``sendwatch.E004`` (``check --deploy``) DEBUG is off and no ring is set: a local key file
  under ``var/`` is used, unless ``SENDWATCH_LOCAL_KEYS=1`` says that is intended;
- ``sendwatch.E005`` (database checks: ``check --database default``, ``migrate``) stored
  credentials or webhook secrets were sealed with master keys the ring cannot open.

Settings read the ring leniently, so a malformed ring is reported here rather than
crashing the import, and ``check --deploy`` still runs.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError, connections

from messaging.vault.crypto import describe_unreadable, parse_key_ring, ring_problems, unreadable_ciphertexts

PROBLEM_IDS = {"malformed": "sendwatch.E001", "not_fernet": "sendwatch.E002", "duplicate": "sendwatch.E003"}
RING_HINT = (
    "SENDWATCH_CREDENTIAL_KEYS is a comma-separated list of key_id:fernet_key items, newest first, e.g. "
    "k2:<new>,k1:<old>. Make a key with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


@register(Tags.security)
def check_key_ring(app_configs=None, **kwargs) -> list[Error]:
    """A malformed ring, a key that is not a Fernet key, a key id named twice."""
    items = list(getattr(settings, "SENDWATCH_CREDENTIAL_KEYS", None) or [])
    return [
        Error(problem.message, hint=RING_HINT, obj="SENDWATCH_CREDENTIAL_KEYS", id=PROBLEM_IDS[problem.kind])
        for problem in ring_problems(items)
    ]


@register(Tags.security, deploy=True)
def check_key_ring_is_set(app_configs=None, **kwargs) -> list[Error]:
    """Without DEBUG, a ring from the environment, or an explicit SENDWATCH_LOCAL_KEYS=1."""
    if settings.DEBUG or not getattr(settings, "SENDWATCH_CREDENTIAL_KEYS_FROM_FILE", False):
        return []
    if getattr(settings, "SENDWATCH_LOCAL_KEYS", False):
        return []
    return [
        Error(
            "SENDWATCH_CREDENTIAL_KEYS is not set and DEBUG is off: API keys and webhook secrets are encrypted "
            f"with a local key file ({settings.VAR_DIR / 'credential-keys'}) that a new machine or a cleaned "
            "folder replaces silently, and then nothing stored decrypts.",
            hint="Set SENDWATCH_CREDENTIAL_KEYS (with the key already in use, if secrets are stored), or set "
            "SENDWATCH_LOCAL_KEYS=1 if a local key file is really intended.",
            obj="SENDWATCH_CREDENTIAL_KEYS",
            id="sendwatch.E004",
        )
    ]


@register(Tags.database)
def check_ring_opens_stored_secrets(app_configs=None, databases=None, **kwargs) -> list[Error]:
    """Stored ciphertexts under master keys the ring cannot open. Runs only when asked about a database."""
    if not databases or "default" not in databases:
        return []
    items = list(getattr(settings, "SENDWATCH_CREDENTIAL_KEYS", None) or [])
    if ring_problems(items):
        return []  # check_key_ring reports the ring itself
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
        stored = {apps.get_model("messaging", name)._meta.db_table for name in ("Credential", "WebhookEndpoint")}
        if not stored <= tables:
            return []  # not migrated yet: nothing is stored
        found = unreadable_ciphertexts(parse_key_ring(items), using="default")
    except DatabaseError:
        return []  # an unreachable database is reported by whoever needs it (migrate, the app)
    if not found:
        return []
    return [
        Error(
            "SENDWATCH_CREDENTIAL_KEYS cannot open stored secrets sealed with master key "
            f"{describe_unreadable(found)}.",
            hint="Put the missing master key(s) back in SENDWATCH_CREDENTIAL_KEYS (the newest stays first) and "
            "restart. Until then those API keys and webhook secrets cannot be used and no new key can be added. "
            'See docs/security.md, "Master key ring checks".',
            obj="SENDWATCH_CREDENTIAL_KEYS",
            id="sendwatch.E005",
        )
    ]
