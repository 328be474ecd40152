"""schemathesis hooks for scripts/schemathesis (SCHEMATHESIS_HOOKS=hooks).

With FRESH_CONNECTIONS=1, every request aimed at the demo connection B goes to a connection
made for it a moment before: active, owned by the demo client, with B's token. A
schema-valid request then has every reason to succeed, so schemathesis.toml allows only
200, 409 and 412 for it, and a change that refused every key would fail the run.
Every status seen is appended to STATUS_LOG, one per line, so the run can report its 200s.

With GENERATED_IDS=1, the check `generated_ids_answer_as_the_contract_allows` holds every
answer for an id that is not a demo connection to what the contract gives such an id:
404, or a refusal decided before the database is asked (see GENERATED_ID_STATUSES).
"""

import hashlib
import json
import os
import secrets
from pathlib import Path

import boto3
import schemathesis

DEMO_CONNECTION = "01J51S0JYV6N7K1030CV1ZKSCB"
DEMO_TOKEN = "demo-token-active-b"
ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NOW = "2026-01-01T00:00:00.000Z"

_table = None

# docs/contract.md, "The order in which a request is decided", for a PATCH on an id no
# connection has, with a valid key and token: a missing or non-Bearer token (401; also
# schemathesis's probes without credentials), an id that is not a ULID or names no item
# (404), the body's refusals (413, 415, 400, 422). Never 200, 403, 409 or 412 (they need an
# item), nor 5xx.
GENERATED_ID_STATUSES = frozenset({400, 401, 404, 413, 415, 422})
# `sam local start-api` answers a path it cannot route (an id holding "/") itself.
SAM_NO_ROUTE = {"message": "Missing Authentication Token"}
SEEDED_IDS = frozenset(
    c["connection_id"]
    for c in json.loads((Path(__file__).resolve().parents[2] / "demo" / "seed.json").read_text())["connections"]
)


def _connections():
    global _table
    if _table is None:
        dynamodb = boto3.resource(
            "dynamodb",
            endpoint_url=os.environ["DYNAMODB_ENDPOINT"],
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        _table = dynamodb.Table(os.environ["CONNECTIONS_TABLE"])
    return _table


def _fresh_connection() -> str:
    connection_id = "01K" + "".join(secrets.choice(ULID_ALPHABET) for _ in range(23))
    _connections().put_item(
        Item={
            "connection_id": connection_id,
            "client_id": "client-demo",
            "customer_id": "schemathesis",
            "retailer_id": "01J7SC0NN73R6F5VVSP3ZKPDA3",
            "status": "active",
            "token_sha256": hashlib.sha256(DEMO_TOKEN.encode()).hexdigest(),
            "token_scopes": {"connections:write"},
            "created_at": NOW,
            "updated_at": NOW,
            "version": 1,
        }
    )
    return connection_id


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    params = case.path_parameters
    if os.environ.get("FRESH_CONNECTIONS") == "1" and params and params.get("connection_id") == DEMO_CONNECTION:
        params["connection_id"] = _fresh_connection()


@schemathesis.hook
def after_call(ctx, case, response):
    log = os.environ.get("STATUS_LOG")
    if log:
        with open(log, "a", encoding="ascii") as f:
            f.write(f"{response.status_code}\n")
    # Which body media type each answer was for: the run must reach both.
    media = os.environ.get("MEDIA_LOG")
    if media:
        with open(media, "a", encoding="ascii") as f:
            f.write(f"{case.media_type} {response.status_code}\n")


@schemathesis.check
def generated_ids_answer_as_the_contract_allows(ctx, response, case):
    """With GENERATED_IDS=1: an id that no demo connection has answers only what the contract allows."""
    # Other methods are schemathesis's probes, held to 405 by its own check; an emulator
    # may answer OPTIONS itself (CORS).
    if os.environ.get("GENERATED_IDS") != "1" or case.method.upper() != "PATCH":
        return None
    connection_id = (case.path_parameters or {}).get("connection_id")
    # A demo connection (only by chance) may answer anything the contract allows.
    if isinstance(connection_id, str) and connection_id.upper() in SEEDED_IDS:
        return None
    status = response.status_code
    if status in GENERATED_ID_STATUSES:
        return None
    if status == 403:
        try:
            if response.json() == SAM_NO_ROUTE:
                return None
        except ValueError:
            pass
    raise AssertionError(
        f"connection id {connection_id!r} answered {status}; an id no connection has may only answer "
        f"{sorted(GENERATED_ID_STATUSES)} (docs/contract.md): {response.text_lossy()[:200]}"
    )
