"""CSV responses that spreadsheet programs cannot turn into formulas."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "@", "\t", "\r", "+", "-")


def safe_cell(value: str) -> str:
    """Quote a cell a spreadsheet would run as a formula; E.164 numbers (+447…) and -12 stay as they are."""
    if value.startswith(FORMULA_STARTS) and not (value[:1] in "+-" and value[1:].replace(".", "", 1).isdigit()):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(rows: Iterable[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([safe_cell(str(cell)) for cell in row]) for row in rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
