"""Re-encrypt every stored secret under the newest master key, and check a key can be dropped.

Master key rotation (docs/security.md):

1. put a new key first in SENDWATCH_CREDENTIAL_KEYS (``k2:…,k1:…``) and restart;
2. ``manage.py reencrypt_credentials`` (batched, resumable: rows already on
   the newest key are skipped, so a rerun continues where one stopped);
3. ``manage.py reencrypt_credentials --check-drop k1`` exits non-zero while any
   row still uses k1; when it passes, remove k1 from the ring and restart.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from tqdm import tqdm

from messaging.models import Credential, WebhookEndpoint
from messaging.vault.crypto import VaultError, key_ring, reseal


@dataclass(frozen=True)
class SealedColumn:
    label: str
    model: type[models.Model]
    ciphertext: str
    key_id: str


# Every column sealed with the master key ring.
SEALED = (
    SealedColumn("credentials", Credential, "ciphertext", "key_id"),
    SealedColumn("webhook secrets", WebhookEndpoint, "secret_ciphertext", "secret_key_id"),
)


class Command(BaseCommand):
    help = "Re-encrypt API keys and webhook secrets under the newest key of SENDWATCH_CREDENTIAL_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200, help="Rows per transaction (default 200).")
        parser.add_argument(
            "--check-drop",
            metavar="KEY_ID",
            help="Change nothing; exit non-zero if any row still uses KEY_ID (so it must stay in the ring).",
        )

    def handle(self, *args, batch_size: int, check_drop: str | None, **options):
        try:
            ring = key_ring()
        except VaultError as exc:
            raise CommandError(str(exc)) from None
        if check_drop:
            return self.check_drop(check_drop, ring)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        newest = ring.newest_id
        todo = {column: self._outdated(column, newest).count() for column in SEALED}
        stream = getattr(self.stderr, "_out", sys.stderr)
        done = 0
        with tqdm(total=sum(todo.values()), desc=f"re-encrypting under {newest}", unit="row", file=stream) as bar:
            for column in SEALED:
                while True:
                    count = self._batch(column, ring, batch_size)
                    if not count:
                        break
                    done += count
                    bar.update(count)
        self.stdout.write(f"Re-encrypted {done} row(s) under master key {newest}.")
        self.write_summary()

    def _outdated(self, column: SealedColumn, newest: str):
        return column.model._default_manager.exclude(**{column.key_id: newest})

    def _batch(self, column: SealedColumn, ring, batch_size: int) -> int:
        """Re-encrypt one batch in one transaction; committed batches are never redone."""
        with transaction.atomic():
            rows = list(
                self._outdated(column, ring.newest_id)
                .select_for_update()
                .order_by("pk")
                .only("pk", column.ciphertext, column.key_id)[:batch_size]
            )
            for row in rows:
                try:
                    new_id, new_ciphertext = reseal(getattr(row, column.key_id), getattr(row, column.ciphertext), ring)
                except VaultError as exc:
                    raise CommandError(
                        f"{column.label} row {row.pk}: {exc}. Rows re-encrypted so far are kept; put the missing "
                        "key back in SENDWATCH_CREDENTIAL_KEYS and run the command again to continue."
                    ) from None
                setattr(row, column.key_id, new_id)
                setattr(row, column.ciphertext, new_ciphertext)
            column.model._default_manager.bulk_update(rows, [column.ciphertext, column.key_id])
        return len(rows)

    def counts(self) -> dict[str, Counter]:
        return {
            column.label: Counter(
                dict(column.model._default_manager.order_by().values_list(column.key_id).annotate(n=models.Count("pk")))
            )
            for column in SEALED
        }

    def write_summary(self) -> None:
        self.stdout.write("Rows per master key id:")
        for label, counter in self.counts().items():
            shown = ", ".join(f"{key_id}: {n}" for key_id, n in sorted(counter.items())) or "none"
            self.stdout.write(f"  {label}: {shown}")

    def check_drop(self, key_id: str, ring) -> None:
        if key_id == ring.newest_id:
            raise CommandError(
                f"{key_id!r} is the newest master key: new secrets are encrypted with it. "
                "Put a new key first in SENDWATCH_CREDENTIAL_KEYS before retiring this one."
            )
        in_use = {label: counter.get(key_id, 0) for label, counter in self.counts().items()}
        if any(in_use.values()):
            detail = ", ".join(f"{n} {label}" for label, n in in_use.items() if n)
            raise CommandError(
                f"Refusing: master key {key_id!r} still encrypts {detail}. "
                "Run `manage.py reencrypt_credentials` first, then check again."
            )
        self.stdout.write(
            self.style.SUCCESS(f"No row uses master key {key_id!r}: it can be removed from SENDWATCH_CREDENTIAL_KEYS.")
        )
        self.write_summary()
