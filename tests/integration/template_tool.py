"""template.yaml as AWS sees it, for tests/integration/template.rs (run with .venv/bin/python,
which has SAM's translator). Nothing here calls AWS.

  template_tool.py transform [Name=Value ...]
      SAM's transform of template.yaml with those parameter values (the rest take their
      defaults), as CloudFormation would deploy it: JSON on stdout, as
      {"parameters": {name: value}, "template": {...}}.

  template_tool.py hook
      Runs PreTrafficHook's own code (its ZipFile) with stand-ins for boto3's Lambda and
      CodeDeploy clients. Standard input: {"scenarios": {name: [answer, ...]}}, an answer
      being what the new version returns to each PRE_TRAFFIC_CHECKS event in turn (an object
      is the function's JSON answer; {"function_error": text} a failed invocation; {"raise":
      text} an invoke that raises). Standard output: {name: status reported to CodeDeploy}.
"""

import json
import os
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def template():
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse((ROOT / "template.yaml").read_text())


def transform(assignments):
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sam = template()
    values = dict(a.split("=", 1) for a in assignments)
    unknown = sorted(set(values) - set(sam["Parameters"]))
    if unknown:
        sys.exit("not parameters of template.yaml: %s" % ", ".join(unknown))
    parameters = {k: str(v.get("Default", "")) for k, v in sam["Parameters"].items()}
    parameters.update(values)
    # As `sam deploy` sends it: the built code uploaded to SAM's artifacts bucket.
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/update-connection.zip"
    try:
        # The template names no managed policy, so the translator needs no IAM lookup.
        output = Translator({}, Parser()).translate(sam, dict(parameters))
    except InvalidDocumentException as error:
        sys.exit("SAM refused the template: %s" % "; ".join(str(c) for c in error.causes))
    json.dump({"parameters": parameters, "template": output}, sys.stdout, default=str)


class _Payload:
    def __init__(self, data):
        self._data = data

    def read(self):
        return self._data


def hook(scenarios):
    resource = template()["Resources"]["PreTrafficHook"]["Properties"]
    code = resource["Code"]["ZipFile"]
    checks = resource["Environment"]["Variables"]["PRE_TRAFFIC_CHECKS"]
    version = "arn:aws:lambda:us-east-1:123456789012:function:update-connection:7"
    reported = {}
    for name, answers in scenarios.items():
        calls = []
        statuses = []

        class Lambda:
            def invoke(self, FunctionName, Payload):
                calls.append((FunctionName, json.loads(Payload)))
                answer = answers[len(calls) - 1]
                if "raise" in answer:
                    raise RuntimeError(answer["raise"])
                if "function_error" in answer:
                    return {"FunctionError": "Unhandled",
                            "Payload": _Payload(answer["function_error"].encode())}
                return {"Payload": _Payload(json.dumps(answer).encode())}

        class CodeDeploy:
            def put_lifecycle_event_hook_execution_status(self, **kwargs):
                assert kwargs["deploymentId"] == "d-TEST"
                assert kwargs["lifecycleEventHookExecutionId"] == "hook-1"
                statuses.append(kwargs["status"])

        boto3 = types.ModuleType("boto3")
        boto3.client = lambda service: {"lambda": Lambda, "codedeploy": CodeDeploy}[service]()
        sys.modules["boto3"] = boto3
        os.environ["NEW_VERSION"] = version
        os.environ["PRE_TRAFFIC_CHECKS"] = checks
        module = types.ModuleType("index")
        exec(compile(code, "PreTrafficHook/index.py", "exec"), module.__dict__)
        stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # the hook's own log lines
        try:
            module.handler({"DeploymentId": "d-TEST", "LifecycleEventHookExecutionId": "hook-1"}, None)
        finally:
            sys.stdout.close()
            sys.stdout = stdout
        if len(statuses) != 1:
            sys.exit("%s: the hook reported %d times" % (name, len(statuses)))
        if any(target != version for target, _ in calls):
            sys.exit("%s: the hook invoked something other than NEW_VERSION" % name)
        reported[name] = {"status": statuses[0],
                          "events": [event for _, event in calls]}
    json.dump(reported, sys.stdout)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "transform":
        transform(sys.argv[2:])
    elif command == "hook":
        hook(json.load(sys.stdin)["scenarios"])
    else:
        sys.exit(__doc__)
