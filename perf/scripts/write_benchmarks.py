#!/usr/bin/env python3
"""Writes the full report of a run (perf/scripts/bench puts it in target/perf/report.md) from the
JSON that perf/scripts/bench collected. BENCHMARKS.md is written by hand: the decisions, each with
its number from a report like this one. Usage: see perf/scripts/bench."""
import json, os, platform, subprocess, sys, datetime

# `--section8-into target/perf/report.md WORK FN`: only section 8 was measured; print the old
# report with that section replaced (or added at the end; a report that does not exist yet is
# just section 8).
SPLICE = sys.argv[1] == "--section8-into"
if SPLICE:
    old_file, work = sys.argv[2], sys.argv[3]
else:
    work, fn, floor, arm = sys.argv[1], sys.argv[2], sys.argv[3], (sys.argv[4] if len(sys.argv) > 4 else "")
load = lambda name: json.load(open(os.path.join(work, name)))
F, R, U, P = "floor", "floor-roundtrip", "update-connection", "python-boto3"
env_on = lambda name: os.environ.get(name, "1") == "1"

def sh(*cmd):
    try:
        return subprocess.check_output(cmd, text=True).strip()
    except Exception:
        return "?"

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = sh("git", "rev-parse", "--short", "HEAD")
dirty = " (with uncommitted changes)" if sh("git", "status", "--porcelain", "--untracked-files=no") else ""
def crit(name, group="request_path"):
    path = f"target/criterion/{group}/{name}/new/estimates.json"
    e = json.load(open(path))
    return e["median"]["point_estimate"] / 1000.0, e["median"]["confidence_interval"]
def row(label, s, unit, nd=2):
    return f"| {label} | {s['median']:.{nd}f} {unit} | {s['p90']:.{nd}f} | {s['p99']:.{nd}f} | {s['n']} |"
def ratio(a, b):
    return a / b if b else float("nan")
def verdict(ok):
    return "met" if ok else "**missed**"

# ---- Section 8: the first TLS request and warm CPU, explained (perf/scripts/bench, TLS8=1) ----
import glob, re, statistics


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def _trace_phases(path, port):
    """Phases of the first HTTPS request in one `strace -f -tt -T` log, in ms from exec."""
    def ts(line):
        h, m, s = line.split()[1].split(":")
        return (int(h) * 3600 + int(m) * 60 + float(s)) * 1e3
    ev, tls_fd, rt_fd = {}, None, None
    for line in open(path):
        if len(line.split()) < 3:
            continue
        t = ts(line)
        if "execve(" in line and "exec" not in ev:
            ev["exec"] = t
        m = re.search(r'writev\((\d+), \[\{iov_base="GET /2018-06-01/runtime', line)
        if m and rt_fd is None:
            rt_fd = m.group(1)
        if rt_fd and "event" not in ev and re.search(rf'recvfrom\({rt_fd}, "HTTP/1.1 200', line):
            ev["event"] = t
        m = re.search(rf"connect\((\d+), \{{sa_family=AF_INET, sin_port=htons\({port}\)", line)
        if m and tls_fd is None and "event" in ev:
            tls_fd, ev["connect"] = m.group(1), t
        if tls_fd is None:
            continue
        if "/dev/sysgenid" in line and "rng" not in ev:
            ev["rng"] = t
        if re.search(r"getrandom\(.*, 48, 0\)", line) and "seeded" not in ev:
            ev["seeded"] = t
        if re.search(rf'writev\({tls_fd}, \[\{{iov_base="\\26\\3\\1', line) and "hello" not in ev:
            ev["hello"] = t
        if "hello" in ev and re.search(rf"recvfrom\({tls_fd}, ", line) and "server" not in ev:
            ev["server"] = t
        if "server" in ev and re.search(rf'writev\({tls_fd}, \[\{{iov_base="\\24\\3\\3', line) and "finished" not in ev:
            ev["finished"] = t
        if "finished" in ev and re.search(rf'writev\({tls_fd}, \[\{{iov_base="\\27\\3\\3', line) and "request" not in ev:
            ev["request"] = t
        if "request" in ev and re.search(rf"recvfrom\({tls_fd}, ", line) and "answer" not in ev:
            ev["answer"] = t
        if "event" in ev and rt_fd and re.search(rf'writev\({rt_fd}, \[\{{iov_base="POST /2018-06-01/runtime/invocat', line) and "response" not in ev:
            ev["response"] = t
    return ev


_PHASES = [
    ("exec", "event", "exec to the first event (init)"),
    ("event", "connect", "event to TCP connect (endpoint, identity, DNS of `localhost` on a new blocking thread)"),
    ("connect", "rng", "connect to aws-lc's first use (rustls ClientConnection)"),
    ("rng", "seeded", "aws-lc's random generator seeded (CPU jitter entropy, when built in)"),
    ("seeded", "hello", "ClientHello built (X25519MLKEM768 + X25519 key shares) and sent"),
    ("hello", "server", "ServerHello .. Finished from stunnel (its handshake work + loopback)"),
    ("server", "finished", "certificate verified, keys derived, client Finished sent"),
    ("finished", "request", "first request written"),
    ("request", "answer", "first answer from DynamoDB Local"),
    ("answer", "response", "rest of the invocation (the function: a second call, the write)"),
    ("exec", "response", "**exec to first response (under strace)**"),
]


def _syscalls(path):
    calls = {}
    for line in open(path):
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m and m.group(2) != "total":
            calls[m.group(2)] = int(m.group(1))
    return calls


def section8(work, tls_port=18143):
    out = []
    w = out.append
    L = lambda name: json.load(open(os.path.join(work, name)))
    cold = L("s8-cold.json")
    has = lambda k: k in cold
    med = lambda k, m="first_response_ms": cold[k][m]["median"]
    w("## 8. The first TLS request and warm CPU, explained")
    w("")
    w(f"Measured by `perf/scripts/bench` (section 8; `TLS8_ONLY=1` runs only this section) on "
      f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit `{commit}`{dirty}; "
      f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a machine shared with other "
      "engineers' builds). Every variant below ran in this one run, the variants taking turns (A B C A B C ...); medians.")
    w("")
    w("Floors, built with the same release profile: `floor-roundtrip` (hyper, plain HTTP, unsigned), `floor-tls` "
      "(the same raw GetItem through the SDK's own HTTP client, `aws-smithy-http-client` with rustls + aws-lc, "
      "built with the function's trust store and connect timeout: AWS's compiled-in roots, plus the system's when "
      "`SSL_CERT_FILE` is set, as the rig sets it), `floor-signed` (`floor-tls` with each request signed by "
      "`aws-sigv4`). `+jitter`: the same source built with aws-lc's CPU jitter entropy "
      "(`AWS_LC_SYS_NO_JITTER_ENTROPY=0`), the build before `.cargo/config.toml`. `@http`: DynamoDB Local on "
      "`http://127.0.0.1`; `@tls`: behind stunnel4 (OpenSSL 3.0) at `https://localhost` with `SSL_CERT_FILE`; "
      "`@tls-ip`: the same at `https://127.0.0.1`. Each variant is started by a `#!/usr/bin/env -S VAR=... BINARY` "
      "wrapper (one extra exec for all alike). Without the init warm-up unless `+warm-up`.")
    w("")
    w("### 8a. Exec to first response")
    w("")
    w("| variant | init | exec to first response | p90 | first invocation | warm invocation | n |")
    w("|---|---|---|---|---|---|---|")
    for k in cold:
        c = cold[k]
        w(f"| {k} | {c['init_ms']['median']:.2f} ms | **{c['first_response_ms']['median']:.2f} ms** | "
          f"{c['first_response_ms']['p90']:.2f} | {c['first_invocation_ms']['median']:.2f} ms | "
          f"{c['warm_invocation_ms']['median']:.2f} ms | {c['first_response_ms']['n']} |")
    w("")
    curl = {}
    for kind in ("tls", "http"):
        rows = [l.split() for l in open(os.path.join(work, f"s8-curl-{kind}.txt")) if l.strip()]
        curl[kind] = {name: 1e3 * _median([float(r[i]) for r in rows]) for i, name in
                      [(2, "connect"), (3, "tls"), (4, "ttfb"), (5, "total")]}
        curl[kind]["n"] = len(rows)
    ct, ch = curl["tls"], curl["http"]
    w(f"curl (OpenSSL 3.0), a fresh connection and the same GetItem, {ct['n']} runs: over TLS TCP connect "
      f"{ct['connect']:.2f} ms, handshake done at {ct['tls']:.2f} ms, answer at {ct['ttfb']:.2f} ms, total "
      f"**{ct['total']:.2f} ms**; over plain HTTP total {ch['total']:.2f} ms (curl's own start-up not included).")
    w("")
    fh, ft, fi = med("update-connection@http"), med("update-connection@tls"), med("update-connection@tls-ip")
    w(f"Function over TLS / over plain HTTP, exec to first response: **{ratio(ft, fh):.2f}x** with the rig's "
      f"`https://localhost` ({ft:.2f} / {fh:.2f} ms; goal <= 1.5x: {verdict(ft <= 1.5 * fh)}); "
      f"**{ratio(fi, fh):.2f}x** like with like, both endpoints an IP address ({fi:.2f} / {fh:.2f} ms; "
      f"{verdict(fi <= 1.5 * fh)}). Before the cut (`+jitter`): "
      f"{ratio(med('update-connection+jitter@tls'), med('update-connection+jitter@http')):.2f}x.")
    w("")
    w("Each cut alone against its baseline, same run (exec to first response unless said):")
    w("")
    w("| cut | baseline | with the cut | saved | helps |")
    w("|---|---|---|---|---|")
    def cut(label, base, new, metric="first_response_ms", helps=""):
        if has(base) and has(new):
            b, n = med(base, metric), med(new, metric)
            w(f"| {label} | {b:.2f} ms (`{base}`) | {n:.2f} ms (`{new}`) | {b - n:+.2f} ms | {helps} |")
    cut("aws-lc without CPU jitter entropy: function over TLS", "update-connection+jitter@tls", "update-connection@tls",
        helps="a real deployment: every cold start's first handshake")
    cut("the same, `floor-tls` over TLS", "floor-tls+jitter@tls", "floor-tls@tls", helps="(the floor)")
    cut("the same, function's init with the warm-up (init)", "update-connection+jitter@tls+warm-up",
        "update-connection@tls+warm-up", "init_ms", helps="a real deployment: init with the warm-up")
    cut("the same, over plain HTTP (no randomness needed)", "update-connection+jitter@http", "update-connection@http",
        helps="nothing: plain HTTP never seeds aws-lc")
    cut("endpoint `127.0.0.1` instead of `localhost` (no getaddrinfo thread)", "update-connection@tls",
        "update-connection@tls-ip", helps="the rig only: Lambda resolves DynamoDB's name over DNS")
    w("")
    # Timeline
    traces = {}
    for path in sorted(glob.glob(os.path.join(work, "s8-trace", "*.txt"))):
        name = os.path.basename(path).rsplit(".", 2)[0]
        ev = _trace_phases(path, tls_port)
        if "response" in ev:
            traces.setdefault(name, []).append(ev)
    if traces:
        names = list(traces)
        w("### 8b. Timeline of the first HTTPS request (strace)")
        w("")
        w("`strace -f -tt -T -e trace=execve,clone3,connect,writev,recvfrom,newfstatat,getrandom` on cold starts "
          "without the warm-up (every system call still stops the process, so each phase is a little longer than "
          "untraced; section 8a has the untraced totals); phases between the system calls that mark them: aws-lc's "
          "first use is its `stat(\"/dev/sysgenid\")` (its VM-snapshot check), its seeding ends with `getrandom(48)`; "
          "the TLS flights are the writes and reads on the DynamoDB socket. Medians over the runs, ms.")
        w("")
        w("| phase | " + " | ".join(f"{n} (n={len(traces[n])})" for n in names) + " |")
        w("|---|" + "---|" * len(names))
        for a, b, label in _PHASES:
            vals = []
            for n in names:
                xs = [ev[b] - ev[a] for ev in traces[n] if a in ev and b in ev]
                vals.append(f"{_median(xs):.2f}" if xs else "-")
            w(f"| {label} | " + " | ".join(vals) + " |")
        w("")
    # Warm
    warm = L("s8-warm.json")
    idle = L("s8-idle.json")
    w("### 8c. Warm CPU per invocation against a DynamoDB that answers later")
    w("")
    w("`perf/src/bin/delay-proxy.rs` in front of DynamoDB Local (plain HTTP) holds each answer back 1, 5 or 20 ms "
      "(0 = direct, no proxy). Warm runs as in section 3, every variant taking turns in one run; user and system "
      "split the schedstat total in the ratio of the process's user and system ticks (`/proc/PID/stat`). "
      "`cpu-after-idle`: the same fixed work (~100 µs) after sleeping as long, timed with the thread's CPU clock: "
      "what the machine alone adds to any work done after a wait.")
    w("")
    w("| DynamoDB answers | function CPU | user | system | floor-signed CPU | user | system | floor-tls CPU | function / floor-signed | function - floor-signed | fixed work after that idle | function latency |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    def wv(b, d):
        r = warm.get(f"{b}@{d}ms")
        if not r:
            return None, None, None, None
        c, u = r["cpu_us_per_invocation"], r.get("user_share", 0)
        return c, c * u, c * (1 - u), r["latency_us"]["median"]
    for d in (0, 1, 5, 20):
        fc, fu, fs, fl = wv("update-connection", d)
        sc, su, ss, _ = wv("floor-signed", d)
        tc, _, _, _ = wv("floor-tls", d)
        probe = idle.get(str(d), {}).get("median_us", float("nan"))
        w(f"| {d} ms{' (direct)' if d == 0 else ''} | **{fc:.0f} µs** | {fu:.0f} | {fs:.0f} | {sc:.0f} µs | {su:.0f} | {ss:.0f} | "
          f"{tc:.0f} µs | {ratio(fc, sc):.2f}x | {fc - sc:.0f} µs | {probe:.1f} µs | {fl / 1000:.2f} ms |")
    w("")
    f1, f20 = wv("update-connection", 1)[0], wv("update-connection", 20)[0]
    s1, s20 = wv("floor-signed", 1)[0], wv("floor-signed", 20)[0]
    p1, p20 = idle["1"]["median_us"], idle["20"]["median_us"]
    f0, s0 = wv("update-connection", 0)[0], wv("floor-signed", 0)[0]
    w(f"CPU per accepted write, 1 ms -> 20 ms: function **{100 * (f20 / f1 - 1):+.0f}%** (goal <= +10%: "
      f"{verdict(f20 <= 1.1 * f1)}); the signed floor {100 * (s20 / s1 - 1):+.0f}%; the same fixed work on this "
      f"machine {100 * (p20 / p1 - 1):+.0f}%; the function's excess over the signed floor "
      f"{f1 - s1:.0f} -> {f20 - s20:.0f} µs ({100 * ((f20 - s20) / (f1 - s1) - 1):+.0f}%).")
    w(f"Function / signed floor: **{ratio(f0, s0):.2f}x** direct (goal <= 1.6x: {verdict(f0 <= 1.6 * s0)}), "
      f"{ratio(f1, s1):.2f}x at 1 ms, {ratio(f20, s20):.2f}x at 20 ms.")
    w("")
    cg = {}
    for b in ("update-connection", "floor-signed"):
        tot = {}
        for n in (100, 300):
            path = os.path.join(work, "s8-callgrind", f"{b}-{n}.out")
            if os.path.exists(path):
                tot[n] = next((int(l.split()[1]) for l in open(path) if l.startswith(("summary:", "totals:"))), None)
        if tot.get(100) and tot.get(300):
            cg[b] = (tot[300] - tot[100]) / 200
    if len(cg) == 2:
        w(f"Instructions per accepted write (callgrind totals on the measured binaries, (300 - 100 invocations) / 200, "
          f"direct): function {cg['update-connection'] / 1000:.0f} k, signed floor {cg['floor-signed'] / 1000:.0f} k: "
          f"**{ratio(cg['update-connection'], cg['floor-signed']):.2f}x** (valgrind hides the CPU's SHA extensions, so "
          "both sign with software SHA-256 here).")
        w("")
    rows = []
    for b in ("update-connection", "floor-signed"):
        for d in (1, 20):
            a = os.path.join(work, "s8-syscalls", f"{b}@{d}ms-100.txt")
            z = os.path.join(work, "s8-syscalls", f"{b}@{d}ms-300.txt")
            if os.path.exists(a) and os.path.exists(z):
                ca, cz = _syscalls(a), _syscalls(z)
                per = {k: (cz.get(k, 0) - ca.get(k, 0)) / 200 for k in set(ca) | set(cz)}
                per = {k: v for k, v in per.items() if abs(v) >= 0.05}
                rows.append((f"{b}, {d} ms", sum(per.values()), per))
    if rows:
        w("System calls per invocation (`strace -c -f`, (300-invocation run - 100-invocation run) / 200):")
        w("")
        w("| binary, DynamoDB answers | total | by call |")
        w("|---|---|---|")
        for label, total, per in rows:
            w(f"| {label} | {total:.1f} | " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])) + " |")
        w("")
    return out


if SPLICE:
    text = open(old_file).read().rstrip("\n").split("\n") if os.path.exists(old_file) else ["# Benchmarks: full report"]
    start = next((i for i, l in enumerate(text) if l.startswith("## 8.")), None)
    if start is None:
        head, tail = text, []
    else:
        end = next((i for i in range(start + 1, len(text)) if text[i].startswith("## ")), len(text))
        head, tail = text[:start], text[end:]
    note = " Sections 1-7 are from that run; section 8 was measured in a later one (its first paragraph says when)."
    head = [l + note if l.startswith("Written by `perf/scripts/bench`") and note not in l else l for l in head]
    while head and not head[-1].strip():
        head.pop()
    print("\n".join(head + [""] + section8(work) + tail).rstrip("\n"))
    sys.exit(0)

cold_http, cold_tls, warm, warm422 = load("cold-http.json"), load("cold-tls.json"), load("warm.json"), load("warm-422.json")
cold_tls_nowarm = load("cold-tls-nowarm.json")
has_py = env_on("PYTHON") and P in warm

out = []
w = out.append
w("# Benchmarks: full report")
w("")
w("Generated by `perf/scripts/bench` (not tracked: BENCHMARKS.md is the hand-written page of decisions).")
w("")
w(f"Written by `perf/scripts/bench` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit `{commit}`{dirty}.")
w(f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}; DynamoDB Local on loopback. "
  "Every figure is measured in the same run as its baseline, the binaries taking turns. "
  "Medians, p90 and p99; ratios are medians over medians.")
w("")
w("Baselines (the floors), built with the same release profile: `perf/src/bin/floor.rs`, a `lambda_http` "
  "hello world, and `perf/src/bin/floor-roundtrip.rs`, the same hello world plus one raw HTTP POST per invocation "
  "(a consistent GetItem of the event's item, hyper over one kept-alive connection, no SDK, no signing) to the same "
  "DynamoDB endpoint: the least any function making one DynamoDB call can cost. The Python peer "
  "(`perf/python/handler.py`): Python 3.11 + boto3 doing the same API-key lookup (consistent GetItem, cached 60 s) "
  "and the same conditional UpdateItem, run by `awslambdaric` (pinned in `perf/python/requirements.txt`, its own "
  "venv) against the same Runtime API. The function runs as Lambda runs it: `perf/src/bin/lambda-bench.rs` is a Runtime API "
  "on loopback; it sets the Lambda environment and times from `exec` to the first `GET /next` (init), "
  "then queues an event and times until the response is posted. Event: `events/rest-v1-contact-update.json` "
  "(an accepted write). CPU is the sum of every thread's on-CPU time from `/proc/PID/task/*/schedstat`; "
  "peak RSS is `VmHWM`.")
w("")

fi, ui = cold_http[F]["init_ms"]["median"], cold_http[U]["init_ms"]["median"]
w("## 1. Cold start (plain HTTP to DynamoDB)")
w("")
w("Without the init warm-up (`DYNAMODB_WARM_UP=false`), so init is the process's own start-up; "
  "section 2 shows what the warm-up adds and what it saves.")
w("")
w("| measure | median | p90 | p99 | n |")
w("|---|---|---|---|---|")
for b in (F, R, U, P):
    if b in cold_http:
        w(row(f"{b}: init", cold_http[b]["init_ms"], "ms"))
for b in (F, R, U, P):
    if b in cold_http:
        w(row(f"{b}: exec to first response", cold_http[b]["first_response_ms"], "ms"))
w("")
w(f"Init ratio, function / floor: **{ratio(ui, fi):.2f}x** (goal <= 2x: {verdict(ui <= 2 * fi)}).")
w("")

tf, tw = cold_tls[U]["first_invocation_ms"]["median"], cold_tls[U]["warm_invocation_ms"]["median"]
hf, hw = cold_http[U]["first_invocation_ms"]["median"], cold_http[U]["warm_invocation_ms"]["median"]
w("## 2. First request after a cold start, over TLS")
w("")
w("DynamoDB Local behind `stunnel4` on loopback with a throwaway CA the function trusts (`SSL_CERT_FILE`). "
  "First invocation = the first event after init; warm = the next five of each process. With the warm-up "
  "(the default), init makes one GetItem of a key that cannot exist, which opens the connection and the "
  "TLS session before the first event.")
w("")
w("| measure | median | p90 | p99 | n |")
w("|---|---|---|---|---|")
w(row("TLS, warm-up: init", cold_tls[U]["init_ms"], "ms"))
w(row("TLS, warm-up: first invocation", cold_tls[U]["first_invocation_ms"], "ms"))
w(row("TLS, warm-up: warm invocation", cold_tls[U]["warm_invocation_ms"], "ms"))
w(row("TLS, warm-up: exec to first response", cold_tls[U]["first_response_ms"], "ms"))
w(row("TLS, no warm-up: init", cold_tls_nowarm[U]["init_ms"], "ms"))
w(row("TLS, no warm-up: first invocation", cold_tls_nowarm[U]["first_invocation_ms"], "ms"))
w(row("TLS, no warm-up: warm invocation", cold_tls_nowarm[U]["warm_invocation_ms"], "ms"))
w(row("TLS, no warm-up: exec to first response", cold_tls_nowarm[U]["first_response_ms"], "ms"))
w(row("plain: first invocation", cold_http[U]["first_invocation_ms"], "ms"))
w(row("plain: warm invocation", cold_http[U]["warm_invocation_ms"], "ms"))
w("")
nf, nw = cold_tls_nowarm[U]["first_invocation_ms"]["median"], cold_tls_nowarm[U]["warm_invocation_ms"]["median"]
w(f"First / warm over TLS with the warm-up: **{ratio(tf, tw):.2f}x** (goal <= 2x: {verdict(tf <= 2 * tw)}); "
  f"without it: {ratio(nf, nw):.2f}x; plain HTTP without it: {ratio(hf, hw):.2f}x.")
w("")
w("Why it sits at about 2x: the first request of a cold instance always makes two round trips "
  "(the API-key lookup, which no warm-up can do without the caller's key, then the write) where a warm "
  "one makes one, so ~2x is its floor; the warm-up removes everything else (connection, TLS handshake, "
  "credentials, endpoint resolution).")
w("")

wf, wr, wu, w4 = warm[F], warm[R], warm[U], warm422[U]
cf, cr, cu, c4 = wf["cpu_us_per_invocation"], wr["cpu_us_per_invocation"], wu["cpu_us_per_invocation"], w4["cpu_us_per_invocation"]
w("## 3. Warm CPU per invocation")
w("")
w(f"{wu.get('rounds', 1)} rounds, the binaries taking turns (order reversed every other round); each round a fresh "
  f"process, 20 warm-up invocations, then {wu['invocations'] // wu.get('rounds', 1)} measured ({wu['invocations']} in all). "
  "CPU per invocation is the median of the rounds' figures; latency percentiles are over every invocation. "
  "DynamoDB Local over plain HTTP on loopback.")
w("")
w("| binary, request | DynamoDB calls | CPU per invocation | / floor | / 1-RT floor | of which user | latency median | p90 | p99 | peak RSS |")
w("|---|---|---|---|---|---|---|---|---|---|")
rows = [("floor, hello world", 0, wf), ("floor-roundtrip, hello world + 1 raw GetItem", 1, wr),
        ("update-connection, accepted write", 1, wu), ("update-connection, 422 (refused before the write)", 0, w4)]
if has_py:
    rows.append(("python-boto3, accepted write", 1, warm[P]))
for label, calls, r in rows:
    l, c = r["latency_us"], r["cpu_us_per_invocation"]
    w(f"| {label} | {calls} | {c:.1f} µs | {ratio(c, cf):.2f}x | {ratio(c, cr):.2f}x | {100 * r.get('user_share', 0):.0f}% | "
      f"{l['median']:.0f} µs | {l['p90']:.0f} | {l['p99']:.0f} | {r['peak_rss_mib']:.1f} MiB |")
w("")
w(f"Accepted write / one-round-trip floor: **{ratio(cu, cr):.2f}x** (goal <= 2x: {verdict(cu <= 2 * cr)}); "
  f"/ hello world: {ratio(cu, cf):.2f}x. Refused before the write / hello world: **{ratio(c4, cf):.2f}x** "
  f"(goal <= 1.1x: {verdict(c4 <= 1.1 * cf)}).")
if has_py:
    cp = warm[P]["cpu_us_per_invocation"]
    w(f"Python peer / function per accepted write, same run: **{ratio(cp, cu):.1f}x** more CPU "
      f"(goal >= 4x: {verdict(cp >= 4 * cu)}).")
w("")
if not env_on("CRITERION"):
    w("Criterion (in process) was not run in this run (`CRITERION=0`).")
    w("")
if env_on("CRITERION"):
    acc, acc_ci = crit("accepted_update_with_dynamodb_in_process")
    inv, _ = crit("validation_failure_no_dynamodb")
    parse, _ = crit("event_parse_only")
    w("In process (criterion, `benches/request_path.rs`: event bytes -> decision -> response bytes, DynamoDB "
      "answered by an in-process HTTP client, so the SDK's serialisation, SigV4 signing and parsing all run):")
    w("")
    w("| path | median |")
    w("|---|---|")
    w(f"| accepted write | {acc:.1f} µs (95% CI {acc_ci['lower_bound']/1000:.1f}-{acc_ci['upper_bound']/1000:.1f}) |")
    w(f"| validation failure, no DynamoDB | {inv:.1f} µs |")
    w(f"| event parsing alone | {parse:.1f} µs |")
    w("")
    w(f"Goal <= 50 µs for the request path: {verdict(acc <= 50)}.")
    w("")
    derived, _ = crit("derived_serialize", "request_line")
    by_hand, _ = crit("hand_formatted_baseline", "request_line")
    w("The request's log line (request log and EMF metrics in one JSON object) is written from a "
      "`#[derive(Serialize)]` struct. Beside the hand-formatted `format!` it replaced (kept in the bench as "
      "the baseline), in the same run:")
    w("")
    w("| request line | median |")
    w("|---|---|")
    w(f"| derived `Serialize` | {derived * 1000:.0f} ns |")
    w(f"| hand-formatted baseline | {by_hand * 1000:.0f} ns |")
    w("")
    w(f"Difference: {(by_hand - derived) * 1000:+.0f} ns, {100 * (by_hand - derived) / acc:+.2f}% of the accepted-write "
      "request path: the hand-formatted line would have to save more than 2% to be kept.")
    w("")
w("## 4. Memory and size")
w("")
w("| measure | floor | update-connection |")
w("|---|---|---|")
w(f"| peak RSS, cold start + 6 invocations (median) | {cold_http[F]['peak_rss_mib']['median']:.1f} MiB | {cold_http[U]['peak_rss_mib']['median']:.1f} MiB |")
if R in cold_http:
    w(f"| peak RSS, one-round-trip floor, cold start + 6 invocations | {cold_http[R]['peak_rss_mib']['median']:.1f} MiB | |")
if P in cold_http:
    w(f"| peak RSS, Python peer, cold start + 6 invocations | {cold_http[P]['peak_rss_mib']['median']:.1f} MiB | |")
w(f"| peak RSS, cold start over TLS (median) | {cold_tls[F]['peak_rss_mib']['median']:.1f} MiB | {cold_tls[U]['peak_rss_mib']['median']:.1f} MiB |")
w(f"| peak RSS, after {wu['invocations']} warm invocations | {wf['peak_rss_mib']:.1f} MiB | {wu['peak_rss_mib']:.1f} MiB |")
w(f"| x86_64 binary (stripped) | {os.path.getsize(floor) / 1048576:.2f} MiB | {os.path.getsize(fn) / 1048576:.2f} MiB |")
w(f"| x86_64 bootstrap, zipped | | {os.path.getsize(os.path.join(work, 'x86.zip')) / 1048576:.2f} MiB |")
if arm:
    w(f"| arm64 bootstrap (`{arm}`), zipped | | {os.path.getsize(os.path.join(work, 'arm.zip')) / 1048576:.2f} MiB |")
peak = max(cold_http[U]['peak_rss_mib']['max'], cold_tls[U]['peak_rss_mib']['max'], wu['peak_rss_mib'])
w("")
w(f"Goals: peak RSS <= 12 MiB ({verdict(peak <= 12)}, worst {peak:.1f} MiB)" +
  (f"; zipped arm64 bootstrap <= 4 MiB ({verdict(os.path.getsize(os.path.join(work, 'arm.zip')) <= 4 * 1048576)})." if arm else
   "; zipped arm64 bootstrap: not built in this run (`sam build` first)."))
w("")
if env_on("CALLGRIND") and os.path.exists(os.path.join(work, "cg-update-connection.json")):
    cg = {b: load(f"cg-{b}.json") for b in (F, R, U, "update-connection-422")}
    w("## 4a. Instructions per warm invocation, by layer (callgrind)")
    w("")
    w("`valgrind --tool=callgrind` on the `profiling` build (the release profile with symbols: same code), run by "
      "the same harness; per invocation = (300-invocation run - 100-invocation run) / 200, so start-up and warm-up "
      "cancel. Each function's self (exclusive) count goes to the crate its symbol names first "
      "(`perf/scripts/callgrind_layers.py`; generic std code instantiated for a crate's type, such as "
      "`drop_in_place<T>`, counts for that crate). Under valgrind the CPU's SHA extensions are hidden, so `sha2` "
      "runs its software rounds: the SHA row is what valgrind counts, several times what the hardware runs.")
    w("")
    order = [k for k, _ in sorted(cg[U]["layers"].items(), key=lambda kv: -kv[1])]
    for b in (F, R, "update-connection-422"):
        order += [k for k in cg[b]["layers"] if k not in order]
    w("| layer | floor | floor-roundtrip | update-connection, accepted | update-connection, 422 |")
    w("|---|---|---|---|---|")
    fmt = lambda v: f"{v / 1000:,.1f} k" if abs(v) >= 50 else "0"
    for k in order:
        vals = [cg[b]["layers"].get(k, 0) for b in (F, R, U, "update-connection-422")]
        if max(abs(v) for v in vals) < 500:
            continue
        w(f"| {k} | " + " | ".join(fmt(v) for v in vals) + " |")
    w("| **total** | " + " | ".join(f"**{cg[b]['total'] / 1000:,.1f} k**" for b in (F, R, U, "update-connection-422")) + " |")
    w("| of which software SHA-256 (valgrind) | " + " | ".join(fmt(cg[b]["sha_software"]) for b in (F, R, U, "update-connection-422")) + " |")
    w("")
    tu, tr, tf = cg[U]["total"], cg[R]["total"], cg[F]["total"]
    w(f"Instructions, accepted write / one-round-trip floor: **{ratio(tu, tr):.2f}x**; / hello world: {ratio(tu, tf):.2f}x; "
      f"422 / hello world: {ratio(cg['update-connection-422']['total'], tf):.2f}x. Rows under 0.5 k in every column are left out.")
    w("")

w("## 5. Round trips")
w("")
w("Counted in a test, not here: `tests/contract/round_trips.rs` asserts 2 DynamoDB requests "
  "(GetItem + UpdateItem) on a key-cache miss, exactly 1 UpdateItem for an accepted request with a warm "
  "cache and for every conditional failure (no second read), and 0 for requests refused before the write.")
w("")
profiles = os.environ.get("PROFILES", "").split()
if profiles and os.path.exists(os.path.join(work, "profiles-cold.json")):
    pc, pw = load("profiles-cold.json"), load("profiles-warm.json")
    w("## 6. Release profile: the alternatives tried")
    w("")
    w("The same code under each cargo profile (`Cargo.toml`), measured side by side in this run "
      "(cold starts taking turns, without the warm-up; warm CPU as in section 3).")
    w("")
    w("| profile | settings | binary | zipped | init median | warm CPU / invocation | peak RSS |")
    w("|---|---|---|---|---|---|---|")
    settings = {"release": "lto = fat, codegen-units = 1, opt-level = 3, strip, panic = unwind",
                "release-s": "release + opt-level = \"s\"", "release-thin": "release + lto = thin, codegen-units = 16",
                "release-abort": "release + panic = abort"}
    for name in ["release"] + profiles:
        label = "update-connection" if name == "release" else f"update-connection-{name}"
        path = fn if name == "release" else os.path.join(work, name, label)
        zpath = os.path.join(work, f"{name}.zip")
        import zipfile
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, "bootstrap")
        w(f"| `{name}` | {settings.get(name, '')} | {os.path.getsize(path) / 1048576:.2f} MiB | "
          f"{os.path.getsize(zpath) / 1048576:.2f} MiB | {pc[label]['init_ms']['median']:.2f} ms | "
          f"{pw[label]['cpu_us_per_invocation']:.1f} µs | {pw[label]['peak_rss_mib']:.1f} MiB |")
    w("")

# Cost model: measured warm CPU and round-trip counts, AWS's prices.
LAMBDA_GB_S, LAMBDA_REQ = 0.0000133334, 0.20 / 1e6      # arm64, per GB-s and per request
WRU, RRU = 0.625 / 1e6, 0.125 / 1e6                     # DynamoDB on-demand, us-east-1
DDB_MS = float(os.environ.get("COST_DYNAMODB_MS", "4"))  # one call's service time in-region (assumed)
HIT = float(os.environ.get("COST_KEY_CACHE_HIT", "0.99"))
w("## 7. Cost model")
w("")
w("Prices as AWS published them (Lambda arm64 since 2021; DynamoDB on-demand since its November 2024 reduction), taken from public write-ups of 2025 on 2026-11-29, not from AWS's own pages, which cannot be reached from the machine that wrote this: check them before relying on the table. Lambda arm64 "
  "$0.0000133334 per GB-s and $0.20 per million requests; DynamoDB on-demand in us-east-1 $0.625 per million "
  "write request units and $0.125 per million read request units. An accepted write is 1 UpdateItem of an "
  "item under 1 KB (1 WRU) plus, on an API-key cache miss, 1 strongly consistent GetItem under 4 KB (1 RRU); "
  f"the key cache hit rate is taken as {HIT:.0%} (a key seen in the last 60 s on that instance).")
w("")
w(f"Wall time per invocation = warm CPU measured here / CPU share + DynamoDB calls x {DDB_MS:g} ms (an assumed "
  "in-region service time, not measured here), billed rounded up to the next 1 ms. CPU share = memory / 1,769 MB "
  "(1,769 MB = 1 vCPU). This takes one core of this x86_64 machine as one Graviton vCPU, and an evenly throttled "
  "CPU: both are assumptions; a short burst under the CFS quota may run faster than the share, so the CPU part is "
  "an upper bound.")
w("")
w("| function | memory | CPU share | CPU wall (µs / share) | wall per accepted write | billed | Lambda $ per 1M (duration + requests) | DynamoDB $ per 1M | total $ per 1M |")
w("|---|---|---|---|---|---|---|---|---|")
import math
peers = [("update-connection", cu)] + ([("python-boto3", warm[P]["cpu_us_per_invocation"])] if has_py else [])
ddb_cost = WRU + (1 - HIT) * RRU
calls = 1 + (1 - HIT)
best = {}
for name, cpu_us in peers:
    for mb in (128, 256, 512):
        share = min(1.0, mb / 1769)
        cpu_ms = cpu_us / 1000 / share
        wall = cpu_ms + calls * DDB_MS
        billed = math.ceil(wall)
        lam = billed / 1000 * mb / 1024 * LAMBDA_GB_S * 1e6 + LAMBDA_REQ * 1e6
        total = lam + ddb_cost * 1e6
        best.setdefault(name, []).append((total, mb, wall))
        w(f"| {name} | {mb} MB | {share:.1%} | {cpu_ms:.2f} ms | {wall:.2f} ms | {billed} ms | ${lam:.3f} | "
          f"${ddb_cost * 1e6:.3f} | ${total:.3f} |")
w("")
cheapest = min(best["update-connection"])
w(f"For this function the cheapest size is {cheapest[1]} MB (${cheapest[0]:.3f} per million accepted writes, "
  f"{cheapest[2]:.1f} ms modelled). DynamoDB's write unit is the larger part of the bill at every size; "
  "Lambda's per-request fee is the next.")
if has_py:
    for (t, mb, wl) in best["python-boto3"]:
        pass
    py128 = best["python-boto3"][0]
    us128 = best["update-connection"][0]
    w(f"At 128 MB the Python peer costs ${py128[0]:.3f} per million ({py128[2]:.1f} ms) against ${us128[0]:.3f} "
      f"({us128[2]:.1f} ms).")
w("")
tls_init = cold_tls[U]["init_ms"]["median"]
w(f"Default memory: **128 MB** (template.yaml). It is the cheapest size above, peak RSS ({peak:.1f} MiB at worst here) "
  "leaves more than 100 MB free, and the bill per accepted write is DynamoDB's write unit and Lambda's request fee "
  "whatever the size. What 128 MB costs is latency: the CPU part of a warm write stretches by 1,769/128 = 13.8x, "
  f"and so does a cold start's init (here {tls_init:.0f} ms over TLS with the warm-up at a full core, so roughly "
  f"{tls_init * 1769 / 128 / 1000:.1f} s at 128 MB and {tls_init * 1769 / 256 / 1000:.1f} s at 256 MB, if it is all CPU). "
  "A deployment that cares about cold-start latency more than about cents per million requests should choose 256 MB.")
w("")

if env_on("TLS8") and os.path.exists(os.path.join(work, "s8-cold.json")):
    out += section8(work)

print("\n".join(out))
