#!/usr/bin/env python3
"""Shares of a CPU profile by component (issue 15, docs/performance.md).

    go tool pprof -traces cpu.pprof | scripts/pprof-breakdown.py
    scripts/pprof-breakdown.py [-self] a/cpu.pprof b/cpu.pprof ...   (a markdown table of the
        "incl" shares, or with -self of the "self" ones; one column per profile)

Each sample goes to one row ("self" column): kernel calls (syscalls, split by the socket's
user: pgx's database connection, net/http's client connection, or the runtime's futex/epoll),
then allocation (runtime.mallocgc and below) and the garbage collector's background work,
then the innermost frame of a known component (Gin, GORM, pgx, database/sql, encoding/json,
slog, Prometheus metrics, request id, net/http, the app's own packages); frames of the
runtime, reflect and small standard helpers (strconv, time, fmt, sync...) count for their
caller. The "incl" column gives each sample to the innermost component on its stack, with the
allocation, syscalls and helpers it caused: what that component's own code costs, all in
(a middleware's share, not the handlers it wraps).
"""
import re
import sys

COMPONENTS = [  # (name, test on a frame), innermost match wins for "self"
    ("request id", lambda f: "RequestID" in f or "newRequestID" in f),
    ("logging (slog)", lambda f: f.startswith("log/slog") or ".Logger.func" in f or "middleware.Logger" in f),
    ("metrics", lambda f: "prometheus" in f or "Metrics" in f),
    ("pgx", lambda f: "jackc/pgx" in f or "jackc/puddle" in f),
    ("database/sql", lambda f: f.startswith("database/sql")),
    ("GORM", lambda f: f.startswith("gorm.io")),
    ("encoding/json", lambda f: f.startswith("encoding/json")),
    ("Gin", lambda f: "gin-gonic" in f),
    ("net/http", lambda f: f.startswith("net/http")),
    ("app (controllers, store, auth...)", lambda f: f.startswith("tiktok/")),
]
SKIP = re.compile(r"^(runtime|reflect|strconv|fmt|time|strings|bytes|sync|unicode|internal/|sort|slices|maps|math|bufio|io|errors|context|net\.|net/netip|syscall|crypto|hash|encoding/(hex|binary|base64)|unique|iter|os\.|regexp|type:|aeshash|memeqbody|indexbytebody|cmpbody|gogo|go\.shape)")


def classify(stack):
    """stack: leaf first."""
    if any(f.startswith(("runtime.futex", "runtime.netpoll", "runtime.usleep", "runtime.osyield")) for f in stack):
        return "runtime: futex/epoll/sched"
    if any(f.startswith(("syscall.", "internal/runtime/syscall")) for f in stack):
        if any("jackc/pgx" in f for f in stack):
            return "syscalls: DB socket (pgx)"
        if any(f.startswith("net/http") for f in stack):
            return "syscalls: client socket (net/http)"
        return "syscalls: other"
    if any(f.startswith(("runtime.mallocgc", "runtime.newobject", "runtime.growslice", "runtime.makeslice",
                         "runtime.makemap", "runtime.newarray", "runtime.rawstring", "runtime.rawbyteslice")) for f in stack) \
            and not any(f.startswith("runtime.gcBgMarkWorker") for f in stack):
        return "runtime: malloc (+GC assist)"
    if any(f.startswith(("runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcMark",
                         "runtime.gcStart", "runtime.markroot", "runtime.gcDrain")) for f in stack):
        return "runtime: GC background"
    for f in stack:
        for name, test in COMPONENTS:
            if test(f):
                return name
        if not SKIP.match(f):
            return "other: " + f.split("(")[0].rsplit(".", 1)[0]
    return "runtime: scheduler/other"


def innermost(stack):
    for f in stack:
        for name, test in COMPONENTS:
            if test(f):
                return name
    return None


def parse(lines):
    samples, stack, val = [], [], None
    unit = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "": 1}
    for line in lines:
        if line.startswith("-----------+"):
            if stack:
                samples.append((val, stack))
            stack, val = [], None
            continue
        m = re.match(r"^\s+([\d.]+)(ns|us|µs|ms|s|B|kB|MB|GB|)\s+(\S.*)$", line)
        if m:
            if stack:
                samples.append((val, stack))
            val, stack = float(m.group(1)) * unit[m.group(2)], [m.group(3).strip()]
        elif stack and line.startswith("             "):
            stack.append(line.strip().replace(" (inline)", ""))
    if stack:
        samples.append((val, stack))
    return samples


def partition(samples):
    """Each sample to the innermost component on its stack, else to its runtime row."""
    out = {}
    for v, st in samples:
        c = innermost(st) or classify(st)
        out[c] = out.get(c, 0) + v
    return out


def table(paths, self_view=False):
    """Markdown table of the partition of several profiles (one column each)."""
    import subprocess
    cols = []
    for p in paths:
        text = subprocess.run(["go", "tool", "pprof", "-traces", p], capture_output=True, text=True).stdout
        samples = parse(text.splitlines())
        total = sum(v for v, _ in samples) or 1
        if self_view:
            shares = {}
            for v, st in samples:
                c = classify(st)
                shares[c] = shares.get(c, 0) + v
        else:
            shares = partition(samples)
        cols.append({k: 100 * v / total for k, v in shares.items()})
    rows = sorted({k for c in cols for k in c}, key=lambda k: -sum(c.get(k, 0) for c in cols))
    print("| component | " + " | ".join(paths) + " |")
    print("|---|" + "---:|" * len(paths))
    for r in rows:
        if max(c.get(r, 0) for c in cols) < 0.5:
            continue
        print(f"| {r} | " + " | ".join(f"{c.get(r, 0):.1f}%" for c in cols) + " |")


def main():
    if len(sys.argv) > 1:
        args = sys.argv[1:]
        self_view = args[0] == "-self"
        table(args[1:] if self_view else args, self_view)
        return
    samples = parse(sys.stdin)
    total = sum(v for v, _ in samples) or 1
    own, incl = {}, {}
    for v, st in samples:
        c = classify(st)
        own[c] = own.get(c, 0) + v
        owner = innermost(st)
        if owner:
            incl[owner] = incl.get(owner, 0) + v
    print(f"total {total:.2f} (s of CPU, or bytes)")
    print(f"{'component':40s} {'self':>6s} {'incl':>6s}")
    for c, v in sorted(own.items(), key=lambda kv: -kv[1]):
        if v / total < 0.005:
            continue
        i = incl.get(c)
        print(f"{c:40s} {100 * v / total:5.1f}% " + (f"{100 * i / total:5.1f}%" if i else ""))
    rest = sum(v for v in own.values() if v / total < 0.005)
    print(f"{'(rows under 0.5%)':40s} {100 * rest / total:5.1f}%")


if __name__ == "__main__":
    main()
