#!/usr/bin/env python3
"""Retention under load (BENCHMARKS.md, "Retention under load"): a purge of half the log
while reads (S1: the first page, no filter) and writes (batches, as S6 posts them) go on.

On a fresh database (SQLite file, or a PostgreSQL database made and dropped here):
  1. `auditlog seed` loads --entries entries spread over 60 days up to now, so that a
     retention of 30 days expires about half of them; `serve` takes them into the log;
  2. a window of --secs seconds of load without a purge: the reference;
  3. the same load while `auditlog purge --retention-days 30` runs, and until it ends;
  4. the space: before, right after the purge, and after as many entries are written
     again as a tenth of those removed.
Every request's latency is kept by the window it started in; the figures are the
median, the 99th percentile and the slowest. Only 127.0.0.1 is contacted; every loop is
bounded in count and time.

    python3 tools/purge_load.py --bin target/release/auditlog --backend sqlite
    python3 tools/purge_load.py --bin target/release/auditlog --backend postgres
"""

import argparse
import http.client
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid

KEY = "purge-load-bootstrap-key-0123456789"


def request(port, method, path, body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {KEY}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def batch(n, tag):
    return json.dumps(
        [
            {
                "type": "login_success",
                "meta_http_request_id": f"{tag}-{i}",
                "meta_source_ip": f"198.51.100.{i % 250 + 1}",
                "meta_user_agent": "purge-load",
                "actor_email": f"user{i % 997}@load.test",
            }
            for i in range(n)
        ]
    )


class Load:
    """Readers and writers in closed loops until stopped; latencies by start time."""

    def __init__(self, port, readers, writers, size):
        self.port, self.size = port, size
        self.samples = {"read": [], "write": []}
        self.errors = 0
        self.running = True
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.read, daemon=True) for _ in range(readers)]
        self.threads += [threading.Thread(target=self.write, args=(w,), daemon=True) for w in range(writers)]
        for thread in self.threads:
            thread.start()

    def keep(self, kind, started, status, expected):
        took = time.monotonic() - started
        with self.lock:
            self.samples[kind].append((started, took))
            if status != expected:
                self.errors += 1

    def read(self):
        while self.running:
            started = time.monotonic()
            status, _ = request(self.port, "GET", "/admin/audit_logs")
            self.keep("read", started, status, 200)

    def write(self, w):
        n = 0
        while self.running:
            body = batch(self.size, f"w{w}-{n}")
            n += 1
            started = time.monotonic()
            status, _ = request(self.port, "POST", "/admin/audit_logs", body)
            self.keep("write", started, status, 201)

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=70)


def figures(samples, start, end):
    took = sorted(t for (s, t) in samples if start <= s < end)
    if not took:
        return None
    at = lambda q: took[min(len(took) - 1, int(q * len(took)))]
    return {"n": len(took), "p50": at(0.5) * 1000, "p99": at(0.99) * 1000, "max": took[-1] * 1000}


def show(label, f):
    if f is None:
        return f"{label}: none"
    return f"{label}: {f['n']} requests, p50 {f['p50']:.1f} ms, p99 {f['p99']:.1f} ms, slowest {f['max']:.0f} ms"


def space(args, url, sqlite_path):
    if args.backend == "sqlite":
        db = sqlite3.connect(sqlite_path)
        pages, free, size = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size"))
        db.close()
        return f"file {pages * size / 2**20:.0f} MiB, of which free pages {free * size / 2**20:.0f} MiB"
    out = subprocess.run(
        ["psql", url, "-Atc", "SELECT pg_total_relation_size('audit_logs'), "
         "(SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'audit_logs')"],
        check=True, capture_output=True, text=True,
    ).stdout.strip().split("|")
    return f"audit_logs with its indexes {int(out[0]) / 2**20:.0f} MiB, dead rows {out[1]}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/auditlog")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--secs", type=int, default=30)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--port", type=int, default=18_611)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="auditlog-purge-")
    sqlite_path = f"{workdir}/purge.db"
    database = None
    if args.backend == "sqlite":
        url = f"sqlite://{sqlite_path}?mode=rwc"
    else:
        database = f"purge_{uuid.uuid4().hex[:12]}"
        subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
        url = f"{args.postgres}/{database}"
    env = dict(
        os.environ,
        AUDITLOG_DATABASE_URL=url,
        AUDITLOG_LISTEN=f"127.0.0.1:{args.port}",
        AUDITLOG_BOOTSTRAP_API_KEY=KEY,
        AUDITLOG_SIGNING_KEY_FILE=f"{workdir}/signing.key",
        AUDITLOG_MAX_EXPENSIVE_REQUESTS="64",
        RUST_LOG="warn",
    )
    run = lambda *a: subprocess.run([args.bin, *a], env=env, check=True, capture_output=True, text=True)
    server = None
    try:
        print(f"{args.backend}: {args.bin}, {args.entries} entries over 60 days")
        run("migrate")
        started = time.monotonic()
        run("seed", "--count", str(args.entries), "--days", "60", "--seed", "7")
        print(f"  seeded in {time.monotonic() - started:.0f} s")
        server = subprocess.Popen([args.bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started, size = time.monotonic(), 0
        while time.monotonic() - started < 1800:
            try:
                status, note = request(args.port, "GET", "/admin/audit_logs/checkpoint")
                if status == 200:
                    size = int(note.decode().splitlines()[1])
                    if size >= args.entries:
                        break
            except OSError:
                pass
            time.sleep(1)
        print(f"  in the log after {time.monotonic() - started:.0f} s (size {size})")
        if args.backend == "postgres":
            subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], check=True)

        load = Load(args.port, args.readers, args.writers, args.batch)
        time.sleep(2)
        base_start = time.monotonic()
        time.sleep(args.secs)
        base_end = time.monotonic()
        before = space(args, url, sqlite_path)
        purge_start = time.monotonic()
        purge = subprocess.run(
            [args.bin, "purge", "--retention-days", "30"], env=env, check=True, capture_output=True, text=True
        )
        purge_end = time.monotonic()
        time.sleep(1)
        load.stop()
        after = space(args, url, sqlite_path)
        removed = sum(
            int(line.split("removed ")[1].split(" ")[0])
            for line in purge.stdout.splitlines()
            if " removed " in line
        )
        took = purge_end - purge_start
        print(f"  purge: {removed} entries removed in {took:.1f} s ({removed / took:.0f} entries/s), while the load ran")
        for kind in ("read", "write"):
            base = figures(load.samples[kind], base_start, base_end)
            during = figures(load.samples[kind], purge_start, purge_end)
            print("  " + show(f"{kind} without purge", base))
            print("  " + show(f"{kind} during purge ", during))
            if base and during:
                print(f"  {kind} p99 during / without: {during['p99'] / base['p99']:.2f}")
        print(f"  errors: {load.errors}")
        print(f"  space before the purge: {before}")
        print(f"  space after the purge:  {after}")
        again = max(removed // 10, 1)
        server.terminate()
        server.wait(timeout=60)
        server = None
        run("seed", "--count", str(again), "--days", "1", "--seed", "8")
        print(f"  space after {again} entries written again: {space(args, url, sqlite_path)}")
    finally:
        if server is not None:
            server.kill()
        if database:
            subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])


if __name__ == "__main__":
    main()
