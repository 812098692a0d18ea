"""Decode a raw vendor response for a person: ``decode_error KIND STATUS [FILE] [--header NAME:VALUE]``."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from providers import ADAPTERS, parse_error

MAX_BODY_BYTES = 10 * 1024 * 1024


class Command(BaseCommand):
    help = "Normalize a vendor's raw error response (from FILE or stdin) and print it as JSON."

    def add_arguments(self, parser):
        parser.add_argument("kind", help=f"Vendor kind: {', '.join(ADAPTERS)}")
        parser.add_argument("status", help="The HTTP status the vendor answered with, e.g. 402")
        parser.add_argument("file", nargs="?", help="File holding the response body; stdin when omitted or '-'")
        parser.add_argument(
            "--header", action="append", default=[], metavar="NAME:VALUE", help="A response header; repeatable"
        )

    def handle(self, *args, kind: str, status: str, file: str | None, header: list[str], **options):
        if kind not in ADAPTERS:
            raise CommandError(f"unknown vendor kind {kind!r}; choose one of: {', '.join(ADAPTERS)}")
        try:
            http_status = int(status)
        except ValueError:
            raise CommandError(f"STATUS must be an HTTP status number such as 429, got {status!r}") from None
        if not 100 <= http_status <= 599:
            raise CommandError(f"STATUS must be between 100 and 599, got {http_status}")
        headers = {}
        for item in header:
            name, sep, value = item.partition(":")
            if not sep or not name.strip():
                raise CommandError(f"--header must look like 'Retry-After: 15', got {item!r}")
            headers[name.strip()] = value.strip()
        body = self._read_body(file)
        decoded = parse_error(kind, http_status, body, headers).as_dict()
        self.stdout.write(json.dumps(decoded, indent=2, ensure_ascii=False))

    def _read_body(self, file: str | None) -> bytes:
        try:
            if file in (None, "-"):
                body = sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
            else:
                with open(file, "rb") as handle:
                    body = handle.read(MAX_BODY_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        if len(body) > MAX_BODY_BYTES:
            raise CommandError("the body is larger than 10 MB; pass the start of it")
        return body
