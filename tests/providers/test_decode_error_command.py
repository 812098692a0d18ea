from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

INSUFFICIENT = (
    '{"status": false, "error_code": "INSUFFICIENT_BALANCE", "description": "Balance too low", '
    '"balance": 0.01, "estimated_cost": 0.5, "currency": "EUR"}'
)


def decode(*args, stdin: bytes | None = None, monkeypatch=None) -> dict:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    out = io.StringIO()
    call_command("decode_error", *args, stdout=out)
    return json.loads(out.getvalue())


def test_decodes_a_body_from_a_file(tmp_path):
    body = tmp_path / "body.json"
    body.write_text(INSUFFICIENT)
    result = decode("23telecom", "402", str(body))
    assert result["provider_code"] == "INSUFFICIENT_BALANCE"
    assert result["category"] == "balance"
    assert result["known"] is True
    assert result["description"] and result["resolution"]


def test_decodes_stdin_with_headers(monkeypatch):
    body = b'{"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 15 seconds."}}'
    result = decode("textingblue", "429", "--header", "Retry-After: 30", stdin=body, monkeypatch=monkeypatch)
    assert (result["provider_code"], result["category"]) == ("rate_limited", "rate_limit")
    assert result["retry_after"] == 30  # the header wins over the text


def test_garbage_is_decoded_not_crashed(monkeypatch):
    result = decode("8x8", "200", stdin=b"\xff\xfe<html>", monkeypatch=monkeypatch)
    assert result["category"] == "invalid_response"


@pytest.mark.parametrize(
    "args, message",
    [
        (("nosuchvendor", "400"), "unknown vendor kind"),
        (("telnxo", "abc"), "STATUS must be an HTTP status"),
        (("telnxo", "99"), "between 100 and 599"),
        (("telnxo", "400", "/no/such/file"), "cannot read"),
        (("telnxo", "400", "-", "--header", "Retry-After"), "--header must look like"),
    ],
)
def test_bad_arguments_get_a_clear_error(args, message, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"{}")))
    with pytest.raises(CommandError, match=message):
        call_command("decode_error", *args, stdout=io.StringIO())
