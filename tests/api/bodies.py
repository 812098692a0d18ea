"""Vendor response bodies for the ingest tests, copied from the vendors' own documents.

Each names its source in the sibling ``shared/`` folder (``seeds/00N_*.txt``,
``vendors/*.md``); values the documents leave out are ours and say so.
"""

from __future__ import annotations

import json

# vendors/23telecom.md §6 (field list of the 402 on send) on the seed 000 envelope; the values are ours.
T23_INSUFFICIENT_BALANCE = json.dumps(
    {
        "status": False,
        "error_code": "INSUFFICIENT_BALANCE",
        "description": "Insufficient balance",
        "balance": 0.42,
        "estimated_cost": 1.25,
        "currency": "EUR",
        "total_recipients": 3,
        "billable_recipients": 3,
        "segments": 1,
    }
)

# vendors/23telecom.md §4: a successful send answer (one recipient).
T23_SEND_OK = json.dumps(
    {
        "status": True,
        "messages": [
            {"dnis": "+447700900001", "message_id": "api_7_1750000000000000000_0123456789abcdef", "segment_num": 1}
        ],
        "results": [
            {
                "dnis": "+447700900001",
                "message_id": "api_7_1750000000000000000_0123456789abcdef",
                "segments": 1,
                "status": "accepted",
            }
        ],
    }
)
T23_MESSAGE_ID = "api_7_1750000000000000000_0123456789abcdef"

# vendors/23telecom.md §7: the edge proxy's HTML page.
T23_EDGE_HTML = "<html><head><title>429 Too Many Requests</title></head><body>Too Many Requests</body></html>"

# seed 004: "Rate limited".
TB_RATE_LIMITED = json.dumps(
    {"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 15 seconds."}}
)

# vendors/textingblue.md: the 202 answer to POST /messages/send.
TB_SEND_OK = json.dumps({"id": "msg_a1b2c3d4e5f6", "status": "queued", "to": "+14155550100"})

# seed 002: the error object shape, with code 1002 "Invalid MSISDN" from its table (errorId is ours).
E8_INVALID_MSISDN = json.dumps(
    {
        "code": 1002,
        "message": "Invalid MSISDN",
        "errorId": "5ab1c2d3-0000-4000-8000-000000000001",
        "timestamp": "2020-12-22T05:52:01.85Z",
    }
)

# seed 003: the envelope, and its X-Request-ID example.
TNX_MISSING_FIELD = json.dumps(
    {
        "success": False,
        "error": "missing_required_field",
        "message": "The to field is required",
        "code": 422,
        "field": "to",
    }
)
TNX_REQUEST_ID = "req_8f3a2b1c9d4e7f0a"
