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
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Each AWS call: 5 s to connect, 15 s to answer, at most 3 attempts; all of it inside the
# hook's Lambda timeout (template.yaml).
CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"})
# An invoke is a write: never sent twice by botocore (a timed-out write retried would meet
# its own new version and fail the deployment for nothing); 30 s covers a cold start (10 s
# of init) and the function's own 10 s timeout.
INVOKE_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1, "mode": "standard"})
# IAM names the new version in the hook's policy seconds before CodeDeploy calls the hook:
# a denial is retried until the policy has propagated, for at most this long.
DENIAL_RETRY_SECONDS = float(os.environ.get("DENIAL_RETRY_SECONDS", "90"))
# Kept back for telling CodeDeploy, whatever happened before: no call starts with less
# than this plus one call's worst case (3 attempts of 5 + 15 s, and backoff) left.
REPORT_RESERVE_MS = 30_000
CALL_WORST_MS = 70_000
REPORT_ATTEMPTS = 5
# One report: 2 s to connect, 3 s to answer, botocore's own 2 attempts.
REPORT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"})
REPORT_WORST_MS = 12_000

# What a write of the email may change besides the email: its bookkeeping (the version,
# the time, the retry guard's request ids in either form: docs/contract.md). Everything
# else must stay as it was.
WRITE_BOOKKEEPING = ("version", "updated_at", "r0", "r1", "r2", "r3", "last_request_id")
WRITE_BOOKKEEPING_PREFIXES = ("previous_request_id_",)
# A connection no canary owns: the canary's key must get 404 there, as for any other client.
NOT_A_CANARY = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"


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
        self.lambda_client = boto3.client("lambda", config=INVOKE_CONFIG)
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
        unset = CheckFailed(
            "the canary secret is not set: run connections-admin create-canary and store "
            "its output in the secret (docs/deploy.md)"
        )
        try:
            secret = self.call("secretsmanager:GetSecretValue", self.secrets.get_secret_value, SecretId=self.secret_arn)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise unset from None
            raise
        try:
            value = json.loads(secret["SecretString"])
            return {
                self.connected: (value["api_key"], value["connected_token"]),
                self.disconnected: (value["api_key"], value["disconnected_token"]),
            }
        except (KeyError, TypeError, ValueError):
            raise unset from None

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
        """The event API Gateway's REST API sends: both header maps in the client's casing,
        the body base64-encoded (BinaryMediaTypes */*), a request context."""
        api_key, token = credentials
        headers = {
            "Content-Type": "application/json",
            "X-Api-Key": api_key,
            "Authorization": "Bearer " + token,
            "Host": "canary.execute-api.invalid",
        }
        if if_match is not None:
            headers["If-Match"] = if_match
        return {
            "resource": "/connections/{connection_id}",
            "path": "/connections/" + connection_id,
            "httpMethod": "PATCH",
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": {"connection_id": connection_id},
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/connections/{connection_id}",
                "httpMethod": "PATCH",
                "path": "/canary/connections/" + connection_id,
                "stage": "canary",
                "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "192.0.2.1"},
            },
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "isBase64Encoded": True,
        }

    @staticmethod
    def new_email():
        """A fresh email whose body's base64 holds both `+` and `/` (the two characters a
        wrong base64 alphabet reads differently)."""
        for _ in range(100):
            email = "canary-%s~?~?~?@example.com" % secrets.token_hex(6)
            encoded = base64.b64encode(json.dumps({"email": email}).encode())
            if b"+" in encoded and b"/" in encoded:
                return email
        return email

    def bookkeeping_form(self):
        """The live version reads the form the new one writes. A release from before the
        compact form reads only the legacy one: beside it a compact writer would let a
        client's keyed retry write twice (docs/deploy.md, changing the bookkeeping form)."""
        function = self.version.rpartition(":")[0]
        get = self.lambda_client.get_function_configuration
        new = self.call("lambda:GetFunctionConfiguration", get, FunctionName=self.version)
        live = self.call("lambda:GetFunctionConfiguration", get, FunctionName=function, Qualifier="live")
        writes_compact = "BookkeepingFormat=compact" in new.get("Description", "")
        expect(not writes_compact or "BookkeepingFormat=" in live.get("Description", ""),
               "bookkeeping form: the live version reads only the legacy form; "
               "deploy with BookkeepingFormat=legacy first")

    def write_and_refusals(self):
        """The canary write through the new version, then refusals, each leaving both
        canary items exactly as they were."""
        credentials = self.credentials()
        before = self.item(self.connected)
        gone_before = self.item(self.disconnected)
        version = int(before["version"]["N"])
        email = self.new_email()
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
        changed = sorted(
            name for name in set(before) | set(after)
            if before.get(name) != after.get(name) and name != "email"
            and name not in WRITE_BOOKKEEPING and not name.startswith(WRITE_BOOKKEEPING_PREFIXES)
        )
        expect(not changed, "canary write: it also changed %s" % ", ".join(changed))
        expect(self.item(self.disconnected) == gone_before, "canary write: the disconnected canary changed")

        api_key, token = credentials[self.connected]
        _, gone_token = credentials[self.disconnected]
        refusals = [
            ("stale If-Match", self.patch(self.connected, credentials[self.connected], {"email": "stale-" + email}, '"%d"' % version), 412, "precondition-failed"),
            ("disconnected connection", self.patch(self.disconnected, credentials[self.disconnected], {"email": email}), 409, "connection-disconnected"),
            ("the canary's key with a wrong token", self.patch(self.connected, (api_key, "uc_tok_not-the-canarys"), {"email": email}), 401, "invalid-token"),
            ("one canary's token on the other", self.patch(self.disconnected, (api_key, token), {"email": email}), 401, "invalid-token"),
            ("the disconnected canary's token on the active one", self.patch(self.connected, (api_key, gone_token), {"email": email}), 401, "invalid-token"),
            ("the canary's key on a connection it does not own", self.patch(NOT_A_CANARY, (api_key, token), {"email": email}), 404, "not-found"),
        ]
        for name, event, status, code in refusals:
            self.refused(name, event, status, code)
            expect(self.item(self.connected) == after and self.item(self.disconnected) == gone_before,
                   "%s: a stored canary changed" % name)

    def run(self):
        """The names of the checks that failed (empty: the version does its job)."""
        failed = []
        checks = [("bookkeeping form", self.bookkeeping_form),
                  ("canary write and stored-rule refusals", self.write_and_refusals)]
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
    codedeploy = boto3.client("codedeploy", config=REPORT_CONFIG)
    for attempt in range(1, REPORT_ATTEMPTS + 1):
        left = context.get_remaining_time_in_millis() if context else 900_000
        if left < REPORT_WORST_MS:
            raise TimeoutError("no time left to report %s to CodeDeploy" % status)
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
            if attempt == REPORT_ATTEMPTS:
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
