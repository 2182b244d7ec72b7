#!/usr/bin/env python3
"""Medians and per-round ratios of an alternating Gatehouse / peer benchmark (bench/run.sh).

Reads ROUNDS_DIR/<label>-r<N>.json (one driver run each: the driver's --out file) and prints
Markdown: for each configuration the median of its rounds, then for each comparison of issue 4
the server CPU ms per flow of both servers in every round, their ratio in that round, and the
median of those ratios. A round's two runs are minutes apart, its rounds tens of minutes: the
per-round ratio is what cancels the machine's drift.

Usage: ratios.py ROUNDS_DIR
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# (what, Gatehouse label, peer label, scenario, target ratio or None)
COMPARISONS = [
    ("auth code + PKCE, cheapest argon2id, identifier-first (demo policy)",
     "gatehouse-default", "peer-default", "authcode", 0.2),
    ("auth code + PKCE, cheapest argon2id, password-first (the peer's shape)",
     "gatehouse-password-first", "peer-default", "authcode", 0.2),
    ("auth code + PKCE, OWASP argon2id, identifier-first",
     "gatehouse-argon2id", "peer-argon2id", "authcode", None),
    ("client credentials, ES256 JWT access token",
     "gatehouse-default", "peer-jwt-at", "cc", 0.2),
    ("refresh token (rotating; Gatehouse re-evaluates policy and risk)",
     "gatehouse-default", "peer-default", "refresh", 0.2),
]


def load(directory):
    """{label: {round: {scenario: run_scenario_dict, "_run": run_dict}}}"""
    runs = defaultdict(dict)
    for path in sorted(Path(directory).glob("*-r*.json")):
        match = re.fullmatch(r"(.+)-r(\d+)\.json", path.name)
        if not match:
            continue
        data = json.loads(path.read_text())
        run = data["runs"][0]
        scenarios = {s["scenario"]: s for s in run["scenarios"]}
        scenarios["_run"] = run
        runs[match.group(1)][int(match.group(2))] = scenarios
    return runs


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=3):
    return "–" if value is None else f"{value:,.{digits}f}"


def main(directory):
    runs = load(directory)
    if not runs:
        sys.exit(f"ratios: no rounds in {directory}")
    print("## Medians per configuration")
    print()
    print("| configuration | scenario | rounds | flows/s | CPU ms/flow | peak RSS MiB | errors | start-up ms | idle RSS MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in sorted(runs):
        rounds = runs[label]
        names = sorted({s for r in rounds.values() for s in r if s != "_run"})
        for name in names:
            got = [r[name] for r in rounds.values() if name in r]
            base = [r["_run"] for r in rounds.values()]
            print(
                f"| {label} | {name} | {len(got)} | {fmt(med(g['flowsPerSec'] for g in got), 1)} "
                f"| {fmt(med(g['providerCpuMsPerFlow'] for g in got))} "
                f"| {fmt(med(g['providerPeakRssKiB'] / 1024 for g in got), 1)} "
                f"| {sum(g['errors'] for g in got)} "
                f"| {fmt(med(b.get('startupMs') for b in base), 0)} "
                f"| {fmt(med(b['idleRssKiB'] / 1024 for b in base if b.get('idleRssKiB')), 1)} |"
            )
    print()
    print("## Gatehouse against the peer, round by round (server CPU ms per flow)")
    print()
    print("| comparison | rounds: Gatehouse / peer = ratio | median ratio | target |")
    print("|---|---|---:|---|")
    for what, ours, theirs, scenario, target in COMPARISONS:
        cells, ratios = [], []
        for n in sorted(set(runs.get(ours, {})) & set(runs.get(theirs, {}))):
            a = runs[ours][n].get(scenario)
            b = runs[theirs][n].get(scenario)
            if not a or not b:
                continue
            ratio = a["providerCpuMsPerFlow"] / b["providerCpuMsPerFlow"]
            ratios.append(ratio)
            cells.append(f"{fmt(a['providerCpuMsPerFlow'])} / {fmt(b['providerCpuMsPerFlow'])} = {ratio:.2f}×")
        ratio = med(ratios)
        if target is None:
            verdict = "(the hash is the floor; see the cheap-hash row)"
        elif ratio is None:
            verdict = "–"
        else:
            verdict = f"≤ {target:.1f}× — {'met' if ratio <= target else 'missed'}"
        print(f"| {what} | {'; '.join(cells) or '–'} | {fmt(ratio, 2)}× | {verdict} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
