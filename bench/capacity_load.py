#!/usr/bin/env python3
"""Fixed-rate API load for bench/capacity.sh: GET /api/v1/devices/<prefix><k>/live for k = 0, 1, … (cycling
over `devices`), `rate` requests per second on one keep-alive connection, open loop (each request has its
slot; a slow answer is not made up for by sending faster). On SIGTERM prints one line: sent, answered 200, the
achieved rate.

Usage: capacity_load.py BASE_URL TOKEN PREFIX DEVICES RATE
"""
import http.client
import signal
import sys
import time
import urllib.parse

base, token, prefix, devices, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
url = urllib.parse.urlparse(base)
sent = ok = 0
start = time.monotonic()


def report(*_):
    secs = time.monotonic() - start
    print(f"sent={sent} ok={ok} rate={sent / max(secs, 1e-9):.1f}/s", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
headers = {"Authorization": f"Bearer {token}"}
while True:
    slot = start + sent / rate
    delay = slot - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    try:
        conn.request("GET", f"/api/v1/devices/{prefix}{sent % devices}/live", headers=headers)
        resp = conn.getresponse()
        resp.read()
        ok += resp.status == 200
    except (OSError, http.client.HTTPException):
        conn.close()
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    sent += 1
