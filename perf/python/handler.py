"""The Python peer: the same request as update-connection, written as a Python 3.11 +
boto3 Lambda function would be, and run under awslambdaric against the same Runtime API
(perf/scripts/bench). Same DynamoDB work: an API-key lookup (consistent GetItem, cached for
60 s as the function caches it) and one conditional UpdateItem with the same expressions.
A benchmark peer only: it validates just enough to take the same path."""
import hashlib
import json
import os
import time
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Same budgets as src/store/client.rs.
dynamodb = boto3.client(
    "dynamodb",
    config=Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=0.5,
        read_timeout=0.8,
    ),
)
CONNECTIONS = os.environ["CONNECTIONS_TABLE"]
API_KEYS = os.environ["API_KEYS_TABLE"]
RECENT = ["last_request_id", "previous_request_id_1", "previous_request_id_2", "previous_request_id_3"]
KEY_TTL = 60.0
keys = {}

NAMES = {f"#{a}": a for a in ["connection_id", "client_id", "token_sha256", "token_scopes",
                               "token_expires_at", "status", "version", "updated_at", *RECENT]}
CONDITION = (
    "attribute_exists(#connection_id) AND #client_id = :client AND #token_sha256 = :token "
    "AND attribute_type(#token_scopes, :ss) AND contains(#token_scopes, :scope) "
    "AND (attribute_not_exists(#token_expires_at) OR #token_expires_at > :now_epoch) "
    "AND #status <> :disconnected"
    + "".join(f" AND (attribute_not_exists(#{r}) OR #{r} <> :request_id)" for r in RECENT)
)
SHIFT = [f"#{older} = if_not_exists(#{newer}, :request_id)" for newer, older in reversed(list(zip(RECENT, RECENT[1:])))]


def problem(status, title):
    return {"statusCode": status, "headers": {"content-type": "application/problem+json"},
            "body": json.dumps({"status": status, "title": title})}


def client_for_key(key):
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    hit = keys.get(digest)
    if hit and now - hit[1] < KEY_TTL:
        return hit[0]
    item = dynamodb.get_item(
        TableName=API_KEYS, Key={"key_sha256": {"S": digest}}, ConsistentRead=True,
        ProjectionExpression="client_id, #status", ExpressionAttributeNames={"#status": "status"},
    ).get("Item")
    client = None
    if item and item.get("status", {}).get("S") == "active":
        client = item.get("client_id", {}).get("S") or None
    keys[digest] = (client, now)
    return client


def handler(event, context):
    started = time.perf_counter()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    connection_id = (event.get("pathParameters") or {}).get("connection_id", "")
    client = client_for_key(headers.get("x-api-key", ""))
    if client is None:
        return problem(401, "Invalid API key")
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return problem(401, "Missing token")
    try:
        patch = json.loads(event.get("body") or "")
    except ValueError:
        return problem(400, "Malformed JSON")
    if not isinstance(patch, dict) or not set(patch) <= {"email", "mobile", "customer_id", "status"}:
        return problem(422, "Validation failed")
    now = datetime.now(timezone.utc)
    names = dict(NAMES)
    values = {
        ":request_id": {"S": context.aws_request_id}, ":client": {"S": client},
        ":token": {"S": hashlib.sha256(auth[7:].encode()).hexdigest()},
        ":scope": {"S": "connections:write"}, ":ss": {"S": "SS"},
        ":now_epoch": {"N": str(int(now.timestamp()))}, ":disconnected": {"S": "disconnected"},
        ":now": {"S": now.strftime("%Y-%m-%dT%H:%M:%SZ")}, ":zero": {"N": "0"}, ":one": {"N": "1"},
    }
    sets = ["#updated_at = :now", "#version = if_not_exists(#version, :zero) + :one", *SHIFT,
            "#last_request_id = :request_id"]
    removes = []
    for attribute in ("email", "mobile"):
        if attribute in patch:
            names[f"#{attribute}"] = attribute
            if patch[attribute] is None:
                removes.append(f"#{attribute}")
            else:
                values[f":{attribute}"] = {"S": patch[attribute]}
                sets.append(f"#{attribute} = :{attribute}")
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        item = dynamodb.update_item(
            TableName=CONNECTIONS, Key={"connection_id": {"S": connection_id}},
            ConditionExpression=CONDITION, UpdateExpression=update,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return problem(409, "Conflict")
        return problem(503, "Service unavailable")
    view = {k: item[k]["S"] for k in ("connection_id", "customer_id", "retailer_id", "status", "email", "mobile") if k in item}
    print(json.dumps({"request_id": context.aws_request_id, "status": 200,
                      "latency_ms": round((time.perf_counter() - started) * 1e3, 3)}))
    return {"statusCode": 200, "headers": {"content-type": "application/json", "etag": f'"{item["version"]["N"]}"'},
            "body": json.dumps(view)}
