"""schemathesis hooks for scripts/schemathesis (SCHEMATHESIS_HOOKS=hooks).

With FRESH_CONNECTIONS=1, every request aimed at the demo connection B goes to a connection
made for it a moment before: active, owned by the demo client, with B's token. A
schema-valid request then has every reason to succeed, so schemathesis.toml allows only
200, 409 and 412 for it, and a change that refused every key would fail the run.
Every status seen is appended to STATUS_LOG, one per line, so the run can report its 200s.
"""

import hashlib
import os
import secrets

import boto3
import schemathesis

DEMO_CONNECTION = "01J51S0JYV6N7K1030CV1ZKSCB"
DEMO_TOKEN = "demo-token-active-b"
ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NOW = "2026-01-01T00:00:00.000Z"

_table = None


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
