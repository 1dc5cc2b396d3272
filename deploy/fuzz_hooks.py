"""Schemathesis hooks for deploy/fuzz_api.sh: the API's rules that span two query parameters, which JSON Schema
cannot state. Each is in the parameter's description in the OpenAPI document and answered with a 400 problem;
the fuzzer is told not to send such requests as if they were valid.

* history: `from` must be before `to`;
* cost: a report prices at most 10,000 intervals (`count` periods of the demo's hourly prices).
"""

from datetime import datetime

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
    return True
