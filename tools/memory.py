#!/usr/bin/env python3
"""The memory of one server under requests built to cost the most (RELIABILITY.md, Limits).

Starts the release binary on a fresh database (SQLite file, or a PostgreSQL database
made and dropped here), then measures its resident memory (VmRSS, sampled every 20 ms):
  1. idle, after start;
  2. 64 concurrent worst-case POSTs: 4 MB bodies whose one entry's `details` is an array
     of small numbers (the most JSON values a body can pack), each refused with a 400;
  3. 1,000 entries stored with `details` of about 64 KB each, then 8 concurrent
     `GET ...?per_page=1000` reading them all (each answer about 65 MB);
  4. what stays resident 5, 30 and 60 s after each burst.
Only 127.0.0.1 is contacted; every loop is bounded.

    python3 tools/memory.py --bin target/release/auditlog --backend sqlite
    python3 tools/memory.py --bin target/release/auditlog --backend postgres
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

KEY = "memory-check-bootstrap-key-0123456789"
TENANT = "00000000-0000-0000-0000-000000000001"


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Peak:
    """Samples a process's resident memory until stopped; keeps the highest."""

    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0.0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def request(port, method, path, body=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {KEY}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def concurrently(n, work):
    results = [None] * n
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, work(i))) for i in range(n)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def entry(details):
    return {
        "id": str(uuid.uuid4()),
        "type": "login_success",
        "meta_http_request_id": "r",
        "meta_source_ip": "192.0.2.1",
        "meta_user_agent": "memory-check",
        "details": details,
    }


def after(pid, label):
    figures = {}
    start = time.time()
    for at in (5, 30, 60):
        time.sleep(max(0, start + at - time.time()))
        figures[at] = rss_mb(pid)
    print(f"  {label}: resident after 5 s {figures[5]:.0f} MB, 30 s {figures[30]:.0f} MB, 60 s {figures[60]:.0f} MB")
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/auditlog")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--port", type=int, default=18_599)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="auditlog-memory-")
    database = None
    if args.backend == "sqlite":
        url = f"sqlite://{workdir}/memory.db?mode=rwc"
    else:
        database = f"memory_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
        url = f"{args.postgres}/{database}"
    env = dict(
        os.environ,
        AUDITLOG_DATABASE_URL=url,
        AUDITLOG_LISTEN=f"127.0.0.1:{args.port}",
        AUDITLOG_BOOTSTRAP_API_KEY=KEY,
        AUDITLOG_SIGNING_KEY_FILE=f"{workdir}/signing.key",
        AUDITLOG_REQUEST_TIMEOUT_SECS="120",
        RUST_LOG="warn",
    )
    server = subprocess.Popen([args.bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if request(args.port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        pid = server.pid
        print(f"{args.backend}: {args.bin}")
        print(f"  idle after start: {rss_mb(pid):.0f} MB")

        # 2. 64 worst-case POSTs at once.
        packed = [0] * 2_000_000
        body = json.dumps(entry({"a": packed}), separators=(",", ":"))
        body = body[: 4 * 1024 * 1024 - 64]
        body = body[: body.rfind(",")] + "]}}"
        assert len(body) <= 4 * 1024 * 1024
        peak = Peak(pid)
        statuses = concurrently(64, lambda i: request(args.port, "POST", "/admin/audit_logs", body)[0])
        print(f"  64 concurrent 4 MB POSTs of packed details: statuses {sorted(set(statuses))}, peak {peak.stop():.0f} MB")
        after(pid, "after the POSTs")

        # 3. 1,000 entries of about 64 KB of details, then 8 lists of them all.
        details = {"a": "x" * 65_000}
        for _ in range(20):
            batch = [entry(details) for _ in range(50)]
            status, data = request(args.port, "POST", "/admin/audit_logs", json.dumps(batch))
            assert status == 201, (status, data[:200])
        peak = Peak(pid)
        answers = concurrently(8, lambda i: request(args.port, "GET", "/admin/audit_logs?per_page=1000"))
        sizes = sorted({len(data) for _, data in answers})
        statuses = sorted({status for status, _ in answers})
        print(f"  8 concurrent per_page=1000 GETs: statuses {statuses}, answer bytes {sizes}, peak {peak.stop():.0f} MB")
        after(pid, "after the GETs")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if database:
            subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])


if __name__ == "__main__":
    sys.exit(main())
