"""Schemathesis hooks for deploy/fuzz_api.sh: the API's rules that span two query parameters, which JSON Schema
cannot state. Each is in the parameter's description in the OpenAPI document and answered with a 400 problem;
the fuzzer is told not to send such requests as if they were valid.

* history: `from` must be before `to`;
* cost: a report prices at most 10,000 intervals (`count` periods of the demo's hourly prices);
* export: months `from` ≤ `to` ≤ the current month, at most 24, in years the database stores; `decimal=comma`
  only with `sep=semicolon`.
"""

from datetime import datetime, timezone

import schemathesis

HOURS = {"day": 24, "week": 168, "month": 744, "year": 8784}
MAX_INTERVALS = 10_000


def _instant(text):
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


@schemathesis.hook
def filter_query(ctx, query):
    if not query:
        return True
    path = ctx.operation.path
    if path.endswith("/history") and "from" in query and "to" in query:
        start, end = _instant(query["from"]), _instant(query["to"])
        if start is not None and end is not None and start >= end:
            return False
    if path.endswith("/cost") and "count" in query:
        try:
            count = int(query["count"])
        except (TypeError, ValueError):
            return True
        if count * HOURS.get(str(query.get("period", "day")), 24) > MAX_INTERVALS:
            return False
    if path.endswith("/export.csv") and not _export_ok(query):
        return False
    return True


def _month(text):
    """Months since year 0; None when malformed; -1 for a year the database cannot store."""
    try:
        d = datetime.strptime(str(text), "%Y-%m")
    except ValueError:
        return None
    return d.year * 12 + d.month - 1 if 1678 <= d.year <= 2261 else -1


def _export_ok(query):
    if query.get("decimal") == "comma" and query.get("sep") != "semicolon":
        return False
    now = datetime.now(timezone.utc)
    this = now.year * 12 + now.month - 1
    end = _month(query["to"]) if "to" in query else this
    start = _month(query["from"]) if "from" in query else (end - 11 if end is not None else None)
    if start is None or end is None:
        return True  # a malformed month: a 400 the document allows
    return 0 <= start <= end <= this and end - start < 24
