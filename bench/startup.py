#!/usr/bin/env python3
"""Start-up time and idle memory of `gatehouse serve` on an existing SQLite database.

Creates the demo database once, then starts the server RUNS times on it and measures, each time,
the wall time from spawning the process to the first 200 answer of /healthz, and the resident set
size (VmRSS from /proc) after it has been idle for IDLE seconds. Prints the medians.

Usage: bench/startup.py [--bin target/release/gatehouse] [--runs 11] [--idle 2] [--cpu 0]
"""
import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthz(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start(args, workdir, port):
    cmd = [args.bin, "serve", "--demo", "--listen", f"127.0.0.1:{port}",
           "--issuer", f"http://127.0.0.1:{port}"]
    if args.cpu is not None:
        cmd = ["taskset", "-c", str(args.cpu)] + cmd
    env = dict(os.environ, GATEHOUSE_ADMIN_TOKEN="bench-admin-token", RUST_LOG="warn")
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not healthz(port):
        if proc.poll() is not None:
            raise RuntimeError(f"gatehouse exited with {proc.returncode}")
        if time.perf_counter() - began > 30:
            raise RuntimeError("no /healthz answer within 30 s")
        time.sleep(0.001)
    return proc, (time.perf_counter() - began) * 1000


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default="target/release/gatehouse")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this core")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)

    workdir = tempfile.mkdtemp(prefix="gatehouse-startup-")
    try:
        # First start: creates and seeds the database (not measured).
        proc, first = start(args, workdir, free_port())
        stop(proc)
        starts, rss = [], []
        for _ in range(args.runs):
            proc, ms = start(args, workdir, free_port())
            time.sleep(args.idle)
            rss.append(rss_kib(proc.pid) / 1024)
            stop(proc)
            starts.append(ms)
        print(f"first start (creates and seeds the database): {first:.0f} ms")
        print(f"start to first /healthz, existing database: median {statistics.median(starts):.1f} ms "
              f"(min {min(starts):.1f}, max {max(starts):.1f}, {args.runs} runs)")
        print(f"idle RSS after {args.idle:g} s: median {statistics.median(rss):.1f} MiB "
              f"(min {min(rss):.1f}, max {max(rss):.1f})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
