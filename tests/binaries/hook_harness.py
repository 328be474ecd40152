"""Runs the PreTraffic hook's real code (hooks/pre-traffic/index.py, with real boto3) against
the real function, for tests/deployment/template.rs. Run with .venv/bin/python.

Nothing here calls AWS. One loopback server stands in for AWS's APIs the hook calls:
Lambda's Invoke (each event goes to the built update-connection binary through a Lambda
Runtime API served by the same server), Secrets Manager's GetSecretValue and CodeDeploy's
PutLifecycleEventHookExecutionStatus. DynamoDB is DynamoDB Local. The hook's environment is
PreTrafficHook's own, from template.yaml, with its references filled in.

Standard input, one JSON object:
  binary            the update-connection binary
  dynamodb          DynamoDB Local's endpoint
  connections       the connections table (what the hook reads; the stack's table)
  function_tables   {"CONNECTIONS_TABLE", "API_KEYS_TABLE"} the function is given
  secret            the CanarySecret's value (a string), or null: no such secret value
  deny_invokes      the first N invokes are denied (AccessDeniedException), as while IAM
                    catches up with a new version's ARN
  report_failures   the first N reports to CodeDeploy raise; -1: every one
Standard output: {"reported": [status, ...], "raised": error or null, "returned": ...,
"invoked": [FunctionName, ...], "denied": N, "log": [the hook's lines]}.
"""

import contextlib
import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
import types
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:update-connection:7"
# A version's description as template.yaml's VersionDescription writes it.
THIS_RELEASE = "Architecture=x86_64 LogLevel=INFO RequireIfMatch=false BookkeepingFormat=compact DynamoDbEndpoint="
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stack/pre-traffic-canary-AbCdEf"


class Emulator:
    def __init__(self, spec):
        self.spec = spec
        self.events = queue.Queue()
        self.answers = {}
        self.answered = threading.Condition()
        self.invoked = []
        self.denied = 0
        self.reports = 0
        self.reported = []
        self.sequence = 0


def make_handler(emulator):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        # The function's side: Lambda's Runtime API; and Lambda's GetFunctionConfiguration.
        def do_GET(self):
            if self.path.startswith("/2015-03-31/functions/"):
                return self.configuration()
            if self.path != "/2018-06-01/runtime/invocation/next":
                return self.reply(404, {})
            request_id, payload = emulator.events.get()
            deadline = int(time.time() * 1000) + 10_000
            self.reply(200, payload, [
                ("Lambda-Runtime-Aws-Request-Id", request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                ("Lambda-Runtime-Invoked-Function-Arn", VERSION_ARN),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ("Content-Type", "application/json"),
            ])

        def do_POST(self):
            body = self.body()
            parts = self.path.split("/")
            if self.path.startswith("/2018-06-01/runtime/invocation/"):
                request_id, kind = parts[4], parts[5]
                with emulator.answered:
                    emulator.answers[request_id] = (kind, body)
                    emulator.answered.notify_all()
                return self.reply(202, {})
            if self.path.startswith("/2018-06-01/runtime/init/error"):
                return self.reply(202, {})
            if self.path.startswith("/2015-03-31/functions/"):
                return self.invoke(urllib.parse.unquote(parts[3]), body)
            target = self.headers.get("X-Amz-Target", "")
            if target == "secretsmanager.GetSecretValue":
                request = json.loads(body)
                if request.get("SecretId") != SECRET_ARN or emulator.spec.get("secret") is None:
                    return self.reply(400, {"__type": "ResourceNotFoundException",
                                            "message": "Secrets Manager can't find the specified secret value"})
                return self.reply(200, {"ARN": SECRET_ARN, "Name": "stack/pre-traffic-canary",
                                        "SecretString": emulator.spec["secret"]})
            if target == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus":
                request = json.loads(body)
                emulator.reports += 1
                failures = emulator.spec.get("report_failures", 0)
                if failures < 0 or emulator.reports <= failures:
                    return self.reply(400, {"__type": "InvalidLifecycleEventHookExecutionStatusException",
                                            "message": "simulated failure"})
                assert request["deploymentId"] == "d-TEST", request
                assert request["lifecycleEventHookExecutionId"] == "hook-1", request
                emulator.reported.append(request["status"])
                return self.reply(200, {"lifecycleEventHookExecutionId": "hook-1"})
            return self.reply(400, {"__type": "UnknownOperationException", "message": target})

        def configuration(self):
            path, _, query = self.path.partition("?")
            function = urllib.parse.unquote(path.split("/")[3])
            qualifier = urllib.parse.parse_qs(query).get("Qualifier", [None])[0]
            if qualifier == "live" and function == VERSION_ARN.rpartition(":")[0]:
                description = emulator.spec.get("live_description", THIS_RELEASE)
            elif qualifier is None and function == VERSION_ARN:
                description = emulator.spec.get("new_description", THIS_RELEASE)
            else:
                return self.reply(404, {"Message": "no such function or qualifier: %s %s" % (function, qualifier)},
                                  [("x-amzn-ErrorType", "ResourceNotFoundException")])
            return self.reply(200, {"FunctionArn": function, "Description": description})

        def invoke(self, function, payload):
            emulator.invoked.append(function)
            if emulator.denied < emulator.spec.get("deny_invokes", 0):
                emulator.denied += 1
                return self.reply(403, {"Message": "not authorized to perform lambda:InvokeFunction"},
                                  [("x-amzn-ErrorType", "AccessDeniedException")])
            if function != VERSION_ARN:
                return self.reply(403, {"Message": "only the new version may be invoked"},
                                  [("x-amzn-ErrorType", "AccessDeniedException")])
            with emulator.answered:
                emulator.sequence += 1
                # Unique, as Lambda's are: the function takes a repeated id for a retry.
                request_id = "%s-%d" % (uuid.uuid4(), emulator.sequence)
            emulator.events.put((request_id, payload))
            with emulator.answered:
                if not emulator.answered.wait_for(lambda: request_id in emulator.answers, timeout=20):
                    return self.reply(200, b'{"errorType":"Sandbox.Timedout"}',
                                      [("X-Amz-Function-Error", "Unhandled")])
                kind, body = emulator.answers.pop(request_id)
            headers = [("X-Amz-Executed-Version", "7")]
            if kind == "error":
                headers.append(("X-Amz-Function-Error", "Unhandled"))
            return self.reply(200, body, headers)

    return Handler


class Clock:
    """The hook's `time`: sleeps advance a virtual clock instead of waiting."""

    def __init__(self):
        self.offset = 0.0
        self.slept = []

    def monotonic(self):
        return time.monotonic() + self.offset

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.offset += seconds


class Context:
    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)


def hook_environment(spec):
    """PreTrafficHook's Environment from template.yaml, its references filled in."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    resource = template["Resources"]["PreTrafficHook"]
    variables = {}
    for name, value in resource["Properties"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            variables[name] = value
            continue
        # The template's defaults: classic Lambda (IsManaged false), the Fn::If's else.
        if "Fn::If" in value:
            assert value["Fn::If"][0] == "IsManaged", value
            value = value["Fn::If"][2]
        ref = value.get("Ref")
        variables[name] = {
            "UpdateConnectionFunction.Version": VERSION_ARN,
            "ConnectionsTable": spec["connections"],
            "CanarySecret": SECRET_ARN,
        }[ref]
    return resource, variables


def main():
    spec = json.load(sys.stdin)
    emulator = Emulator(spec)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(emulator))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = "127.0.0.1:%d" % server.server_address[1]

    function_env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": address,
        "AWS_LAMBDA_FUNCTION_NAME": "update-connection",
        "AWS_LAMBDA_FUNCTION_VERSION": "7",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_ENDPOINT_URL_DYNAMODB": spec["dynamodb"],
        **spec["function_tables"],
    }
    function = subprocess.Popen([spec["binary"]], env=function_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    resource, variables = hook_environment(spec)
    os.environ.update(variables)
    os.environ.update({
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_ENDPOINT_URL_LAMBDA": "http://" + address,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://" + address,
        "AWS_ENDPOINT_URL_CODEDEPLOY": "http://" + address,
        "AWS_ENDPOINT_URL_DYNAMODB": spec["dynamodb"],
    })
    handler_path = resource["Properties"]["Handler"]
    module_name, function_name = handler_path.rsplit(".", 1)
    code = ROOT / resource["Properties"]["Code"] / (module_name + ".py")
    module = types.ModuleType(module_name)
    exec(compile(code.read_text(), str(code), "exec"), module.__dict__)
    clock = Clock()
    module.time = types.SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep, time=time.time)

    out = io.StringIO()
    raised = returned = None
    try:
        with contextlib.redirect_stdout(out):
            returned = getattr(module, function_name)(
                {"DeploymentId": "d-TEST", "LifecycleEventHookExecutionId": "hook-1"},
                Context(resource["Properties"]["Timeout"]),
            )
    except Exception as error:  # the hook's own failure is part of what is tested
        raised = "%s: %s" % (type(error).__name__, error)
    finally:
        function.kill()
        function.wait()
        server.shutdown()
    json.dump({
        "reported": emulator.reported,
        "raised": raised,
        "returned": returned,
        "invoked": emulator.invoked,
        "denied": emulator.denied,
        "slept": clock.slept,
        "log": [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")],
        "stdout": out.getvalue(),
    }, sys.stdout)


if __name__ == "__main__":
    main()
