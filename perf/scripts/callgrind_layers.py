#!/usr/bin/env python3
"""Self (exclusive) instruction counts per layer from callgrind output files.

  callgrind_layers.py SHORT.out LONG.out N_SHORT N_LONG   -> JSON on stdout

Per warm invocation = (LONG - SHORT) / (N_LONG - N_SHORT), so start-up and the harness's
warm-up cancel out. Each function's self cost goes to the crate its demangled name names
first (skipping core/alloc/std wrappers such as drop_in_place<T>), then to a layer."""
import json, re, sys
from collections import defaultdict

LAYERS = [
    ("our crate", {"update_connection"}),
    ("lambda runtime", {"lambda_runtime", "lambda_runtime_api_client", "lambda_http", "aws_lambda_events",
                        "tower", "tower_service", "tower_layer", "futures_util", "futures_core",
                        "futures_channel", "async_stream", "tokio_stream", "http_serde", "serde_path_to_error",
                        "pin_project", "floor", "floor_roundtrip"}),
    ("SigV4 signing, SHA-256, HMAC", {"aws_sigv4", "sha2", "hmac", "digest", "block_buffer",
                                               "crypto_common", "hex"}),
    ("URL parsing and encoding", {"url", "idna", "percent_encoding", "form_urlencoded"}),
    ("SDK orchestration", {"aws_smithy_runtime", "aws_smithy_runtime_api", "aws_smithy_types", "aws_smithy_http",
                           "aws_smithy_async", "aws_smithy_observability", "aws_smithy_http_client",
                           "aws_smithy_schema", "aws_sdk_dynamodb", "aws_runtime", "aws_types", "aws_config",
                           "aws_credential_types", "aws_smithy_eventstream", "aws_smithy_query", "aws_smithy_xml",
                           "aws_smithy_cbor", "fastrand", "uuid"}),
    ("serde / JSON", {"serde", "serde_json", "serde_core", "aws_smithy_json", "itoa", "ryu", "base64",
                      "zmij"}),
    ("hyper / HTTP", {"hyper", "hyper_util", "http", "http_body", "http_body_util", "httparse", "h2", "bytes",
                      "want", "try_lock", "socket2", "ipnet", "rustls", "tokio_rustls", "hyper_rustls",
                      "httpdate"}),
    ("tokio", {"tokio", "mio", "parking_lot", "parking_lot_core", "lock_api", "atomic_waker"}),
    ("tracing", {"tracing", "tracing_core", "tracing_subscriber", "sharded_slab", "thread_local", "nu_ansi_term"}),
    ("Rust std: collections, other", {"hashbrown", "indexmap", "smallvec", "memchr", "once_cell", "time",
                                      "num_conv", "powerfmt", "arc_swap", "regex_lite"}),
]
# core/alloc/std code that names no other crate: by module.
STD_MODULES = {"fmt": "Rust std: fmt", "hash": "Rust std: hashing (SipHash)", "str": "Rust std: str, UTF-8 checks",
               "string": "Rust std: fmt"}
CRATE_LAYER = {c: name for name, crates in LAYERS for c in crates}
WRAPPERS = {"core", "alloc", "std", "impl", "dyn", "as", "mut", "const"}
ALLOC = re.compile(r"^(_?mi_|mi_|malloc|free|calloc|realloc|cfree|_int_(malloc|free|realloc)|"
                   r"__libc_(malloc|free|calloc|realloc)|malloc_consolidate|tcache|__rust_(alloc|dealloc|realloc)|"
                   r"__rdl_|__rg_|_?mi_malloc|unlink_chunk|__default_morecore)")


def crate_of(fn):
    """The first crate the name mentions that is not core/alloc/std; else 'std:<module>'."""
    tokens = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)::", fn)
    for t in tokens:
        if t not in WRAPPERS and t in CRATE_LAYER:
            return t
    for i, t in enumerate(tokens):
        if t in ("core", "alloc", "std") and i + 1 < len(tokens):
            return "std:" + tokens[i + 1]
    return tokens[0] if tokens else None


def layer(obj, fn):
    if ALLOC.match(fn) or "mimalloc" in fn or "__rust_alloc" in fn or "__rust_dealloc" in fn:
        return "allocator"
    if "sha256" in fn.lower() and ("sha2" in fn or "aws_lc" in fn):
        return "SigV4 signing, SHA-256, HMAC"
    crate = crate_of(fn)
    if crate in CRATE_LAYER:
        return CRATE_LAYER[crate]
    if crate and crate.startswith("std:"):
        return STD_MODULES.get(crate[4:], "Rust std: collections, other")
    if "libc.so" in obj or "libc-" in obj:
        return "libc (memcpy, syscalls)"
    if "ld-linux" in obj or "vgpreload" in obj:
        return "loader / valgrind"
    if crate in ("aws_sdk_sts", "webpki", "rustls_pki_types", "tracing_serde", "compiler_builtins"):
        return "other"
    if crate:
        return "other: " + crate
    return "other (unnamed)"


def self_costs(path):
    """Self cost per (object, function) from one callgrind file (Ir only)."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    cost = defaultdict(int)
    ob = fn = ""
    after_calls = False
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if after_calls:
                    after_calls = False  # the inclusive cost of a call: not ours
                    continue
                if len(parts) > 1:
                    cost[(ob, fn)] += int(parts[1])
                continue
            key, _, value = line.partition("=")
            if key in ("ob", "fn", "cob", "cfn", "fl", "fi", "fe", "cfi", "cfl"):
                kind = {"cob": "ob", "cfn": "fn", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl"}.get(key, key)
                m = re.match(r"\((\d+)\)(?: (.*))?", value)
                if m:
                    if m.group(2) is not None:
                        names[kind][m.group(1)] = m.group(2)
                    value = names[kind].get(m.group(1), "?")
                if key == "ob":
                    ob = value
                elif key == "fn":
                    fn = value
            elif key == "calls":
                after_calls = True
    return cost


def by_layer(cost):
    out = defaultdict(int)
    sha = 0
    for (ob, fn), ir in cost.items():
        out[layer(ob, fn)] += ir
        if fn.startswith("sha2::") or "sha256" in fn.lower() and "compress" in fn:
            sha += ir
    return out, sha


def main():
    short, long_, n_short, n_long = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    (a, sha_a), (b, sha_b) = by_layer(self_costs(short)), by_layer(self_costs(long_))
    runs = n_long - n_short
    per = {k: (b.get(k, 0) - a.get(k, 0)) / runs for k in set(a) | set(b)}
    total = sum(per.values())
    print(json.dumps({"total": total, "sha_software": (sha_b - sha_a) / runs,
                      "layers": dict(sorted(per.items(), key=lambda kv: -kv[1]))}))


if __name__ == "__main__":
    main()
