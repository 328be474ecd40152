"""CodeDeploy PreTraffic hook of update-connection: a new version does its job before it
takes traffic, or the deployment fails.

Through that version (NEW_VERSION, never the live alias) it makes a real authenticated write
on the canary connection and checks the answer and the stored item, then the refusals of
stored rules (a stale If-Match: 412; a disconnected connection: 409) and the refusals that
need no stored data (PRE_TRAFFIC_CHECKS). CodeDeploy is told Succeeded or Failed, always,
also when this code fails.

The canary's API key and tokens come from Secrets Manager (CANARY_SECRET_ARN) and never reach
a log line: the key belongs to a client that owns only the two canary connections, made by
`connections-admin create-canary` (docs/deploy.md).
"""

import base64
import json
import os
import secrets
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Each AWS call: 5 s to connect, 15 s to answer (the function's own timeout is 10 s), at most
# 3 attempts; all of it inside the hook's Lambda timeout (template.yaml).
CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"})
# IAM names the new version in the hook's policy seconds before CodeDeploy calls the hook:
# a denial is retried until the policy has propagated, for at most this long.
DENIAL_RETRY_SECONDS = float(os.environ.get("DENIAL_RETRY_SECONDS", "90"))
# Kept back for telling CodeDeploy, whatever happened before: no call starts with less
# than this plus one call's worst case (3 attempts of 5 + 15 s) left.
REPORT_RESERVE_MS = 30_000
CALL_WORST_MS = 60_000
REPORT_ATTEMPTS = 5

# What a write of the email alone must leave as it was: the caller's view and the
# connection's ownership and credentials.
UNCHANGED = (
    "connection_id", "client_id", "customer_id", "retailer_id", "status", "mobile",
    "token_sha256", "token_scopes", "token_expires_at", "created_at", "disconnected_at",
)


class CheckFailed(Exception):
    """A check's expectation did not hold; the message says which, without secrets."""


def log(**fields):
    print(json.dumps({"level": "INFO", **fields}))


def expect(condition, why):
    if not condition:
        raise CheckFailed(why)


class Hook:
    def __init__(self, context, env=os.environ):
        self.context = context
        self.version = env["NEW_VERSION"]
        self.secret_arn = env["CANARY_SECRET_ARN"]
        self.table = env["CONNECTIONS_TABLE"]
        self.connected = env["CANARY_CONNECTED_ID"]
        self.disconnected = env["CANARY_DISCONNECTED_ID"]
        self.checks = json.loads(env["PRE_TRAFFIC_CHECKS"])
        self.lambda_client = boto3.client("lambda", config=CONFIG)
        self.dynamodb = boto3.client("dynamodb", config=CONFIG)
        self.secrets = boto3.client("secretsmanager", config=CONFIG)

    def remaining_ms(self):
        return self.context.get_remaining_time_in_millis() if self.context else 900_000

    def call(self, what, function, **kwargs):
        """`function(**kwargs)`, retrying an access denial for a bounded time."""
        started, delay = time.monotonic(), 1.0
        while True:
            if self.remaining_ms() < REPORT_RESERVE_MS + CALL_WORST_MS:
                raise CheckFailed("out of time before %s" % what)
            try:
                return function(**kwargs)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in ("AccessDeniedException", "AccessDenied"):
                    raise
                waited = time.monotonic() - started
                if waited + delay > DENIAL_RETRY_SECONDS:
                    raise
                log(message="access denied, retrying", call=what, waited_s=round(waited, 1))
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def credentials(self):
        secret = self.call("secretsmanager:GetSecretValue", self.secrets.get_secret_value, SecretId=self.secret_arn)
        try:
            value = json.loads(secret["SecretString"])
            return {
                self.connected: (value["api_key"], value["connected_token"]),
                self.disconnected: (value["api_key"], value["disconnected_token"]),
            }
        except (KeyError, TypeError, ValueError):
            raise CheckFailed(
                "the canary secret is not set: run connections-admin create-canary and store "
                "its output in the secret (docs/deploy.md)"
            ) from None

    def item(self, connection_id):
        answer = self.call(
            "dynamodb:GetItem", self.dynamodb.get_item, TableName=self.table,
            Key={"connection_id": {"S": connection_id}}, ConsistentRead=True,
        )
        expect("Item" in answer, "canary connection %s does not exist (connections-admin create-canary)" % connection_id)
        return answer["Item"]

    def invoke(self, event):
        """(status, lower-cased headers, body text) of the new version's answer."""
        answer = self.call(
            "lambda:InvokeFunction", self.lambda_client.invoke,
            FunctionName=self.version, Payload=json.dumps(event).encode(),
        )
        payload = answer["Payload"].read()
        expect(not answer.get("FunctionError"), "the function failed: %s" % payload[:300].decode("utf-8", "replace"))
        response = json.loads(payload)
        body = response.get("body") or ""
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            if values:
                headers.setdefault(name.lower(), values[0])
        return response.get("statusCode"), headers, body

    def refused(self, name, event, status, code):
        got_status, headers, body = self.invoke(event)
        try:
            got_code = json.loads(body).get("code")
        except (ValueError, AttributeError):
            got_code = None
        got = (got_status, got_code, headers.get("content-type"))
        want = (status, code, "application/problem+json")
        expect(got == want, "%s: answered %s, expected %s" % (name, got, want))

    def patch(self, connection_id, credentials, body, if_match=None):
        api_key, token = credentials
        headers = {
            "content-type": "application/json",
            "x-api-key": api_key,
            "authorization": "Bearer " + token,
        }
        if if_match is not None:
            headers["if-match"] = if_match
        return {
            "httpMethod": "PATCH",
            "path": "/connections/" + connection_id,
            "pathParameters": {"connection_id": connection_id},
            "headers": headers,
            "body": json.dumps(body),
        }

    def write_and_refusals(self):
        """The canary write through the new version, then the refusals of stored rules."""
        credentials = self.credentials()
        before = self.item(self.connected)
        version = int(before["version"]["N"])
        email = "canary-%s@example.com" % secrets.token_hex(6)
        event = self.patch(self.connected, credentials[self.connected], {"email": email}, '"%d"' % version)
        status, headers, body = self.invoke(event)
        expect(status == 200, "canary write: answered %s, expected 200" % status)
        expect(headers.get("content-type") == "application/json", "canary write: Content-Type %s" % headers.get("content-type"))
        expect(headers.get("etag") == '"%d"' % (version + 1), "canary write: ETag %s, expected \"%d\"" % (headers.get("etag"), version + 1))
        view = json.loads(body)
        expect(view.get("connection_id") == self.connected and view.get("email") == email,
               "canary write: the answer is not the connection with the new email")
        after = self.item(self.connected)
        expect(after.get("version") == {"N": str(version + 1)}, "canary write: the stored version did not go up by one")
        expect(after.get("email") == {"S": email}, "canary write: the stored email is not the one sent")
        changed = [name for name in UNCHANGED if before.get(name) != after.get(name)]
        expect(not changed, "canary write: it also changed %s" % ", ".join(changed))

        stale = self.patch(self.connected, credentials[self.connected], {"email": "stale-" + email}, '"%d"' % version)
        self.refused("stale If-Match", stale, 412, "precondition-failed")
        expect(self.item(self.connected) == after, "stale If-Match: the stored connection changed")

        gone_before = self.item(self.disconnected)
        gone = self.patch(self.disconnected, credentials[self.disconnected], {"email": email})
        self.refused("disconnected connection", gone, 409, "connection-disconnected")
        expect(self.item(self.disconnected) == gone_before, "disconnected connection: the stored connection changed")

    def run(self):
        """The names of the checks that failed (empty: the version does its job)."""
        failed = []
        checks = [("canary write and stored-rule refusals", self.write_and_refusals)]
        for check in self.checks:
            checks.append((check["name"], lambda c=check: self.refused(c["name"], c["event"], c["status"], c["code"])))
        for name, check in checks:
            try:
                check()
                log(message="pre-traffic check", check=name, version=self.version, passed=True)
            except CheckFailed as why:
                log(message="pre-traffic check", check=name, version=self.version, passed=False, why=str(why))
                failed.append(name)
        return failed


def report(event, status, context):
    """Tells CodeDeploy, retrying; raises when it cannot, so that Lambda retries the hook."""
    codedeploy = boto3.client("codedeploy", config=CONFIG)
    for attempt in range(1, REPORT_ATTEMPTS + 1):
        try:
            codedeploy.put_lifecycle_event_hook_execution_status(
                deploymentId=event["DeploymentId"],
                lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
                status=status,
            )
            log(message="reported to CodeDeploy", status=status, attempt=attempt)
            return
        except Exception as error:  # noqa: BLE001 - every failure to report is retried
            log(message="could not report to CodeDeploy", status=status, attempt=attempt,
                error=type(error).__name__)
            left = context.get_remaining_time_in_millis() if context else 900_000
            if attempt == REPORT_ATTEMPTS or left < 10_000:
                raise
            time.sleep(min(2 ** attempt, 10))


def handler(event, context):
    try:
        failed = Hook(context).run()
    except Exception as error:  # noqa: BLE001 - a hook that cannot check fails the deployment
        log(message="pre-traffic checks could not run", error=type(error).__name__, detail=str(error)[:300])
        failed = ["could not run"]
    status = "Failed" if failed else "Succeeded"
    report(event, status, context)
    return {"status": status, "failed": failed}
