#!/usr/bin/env python3
"""Whether a tenant's `q` search costs more when other tenants hold matching values
(RELIABILITY.md, Limits): one tenant with one matching e-mail address, `q` asked
--repeat times and the median taken, first alone, then after another tenant has stored
--others entries whose addresses all match too. Only 127.0.0.1 is contacted.

    python3 tools/q_isolation.py --bin target/release/auditlog --backend sqlite
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid

KEY = "q-isolation-bootstrap-key-0123456789"


def call(port, method, path, headers, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def entries(n, tag):
    return json.dumps(
        [
            {
                "type": "login_success",
                "meta_http_request_id": f"{tag}-{i}",
                "meta_source_ip": "192.0.2.1",
                "meta_user_agent": "q-isolation",
                "actor_email": f"{tag}{i}@example.com",
            }
            for i in range(n)
        ]
    )


def median_ms(port, tenant, key, repeat):
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        status, _ = call(port, "GET", f"/{tenant}/audit_logs?q=example.com", {"apiKey": key})
        took.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    return statistics.median(took)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/auditlog")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--others", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--port", type=int, default=18_623)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="auditlog-q-")
    database = None
    if args.backend == "sqlite":
        url = f"sqlite://{workdir}/q.db?mode=rwc"
    else:
        database = f"q_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
        url = f"{args.postgres}/{database}"
    env = dict(
        os.environ,
        AUDITLOG_DATABASE_URL=url,
        AUDITLOG_LISTEN=f"127.0.0.1:{args.port}",
        AUDITLOG_BOOTSTRAP_API_KEY=KEY,
        AUDITLOG_SIGNING_KEY_FILE=f"{workdir}/signing.key",
        RUST_LOG="warn",
    )
    run = lambda *a: subprocess.run([args.bin, *a], env=env, check=True, capture_output=True, text=True).stdout
    run("migrate")
    other = str(uuid.uuid4())
    run("tenants", "create", "--id", other)
    secret = next(w for w in run("keys", "create", "--tenant", other, "--scopes", "read,write").split() if len(w) > 30 and "-" not in w)
    server = subprocess.Popen([args.bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        mine = "00000000-0000-0000-0000-000000000001"
        for _ in range(300):
            try:
                if call(args.port, "GET", "/health", {})[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        status, _ = call(args.port, "POST", f"/{mine}/audit_logs", {"apiKey": KEY, "Content-Type": "application/json"}, entries(1, "mine"))
        assert status == 201, status
        alone = median_ms(args.port, mine, KEY, args.repeat)
        for start in range(0, args.others, 500):
            status, _ = call(args.port, "POST", f"/{other}/audit_logs", {"apiKey": secret, "Content-Type": "application/json"}, entries(min(500, args.others - start), f"o{start}-"))
            assert status == 201, status
        beside = median_ms(args.port, mine, KEY, args.repeat)
        print(f"{args.backend}: q=example.com in a tenant with one matching value, median of {args.repeat}:")
        print(f"  alone: {alone:.2f} ms; with {args.others} matching values in another tenant: {beside:.2f} ms ({beside / alone:.2f}x)")
    finally:
        server.kill()
        if database:
            subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])


if __name__ == "__main__":
    main()
