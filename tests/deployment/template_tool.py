"""template.yaml as AWS sees it, for tests/deployment/template.rs (run with .venv/bin/python,
which has SAM's translator). Nothing here calls AWS.

  template_tool.py transform [Name=Value ...]
      SAM's transform of template.yaml with those parameter values (the rest take their
      defaults), as CloudFormation would deploy it: JSON on stdout, as
      {"parameters": {name: value}, "template": {...}}.

  template_tool.py with-defaults [Name=Value ...]
      template.yaml, with those parameters' defaults changed, as JSON on stdout: for
      cfn-lint and `sam validate --lint` over the other mode (scripts/test lint).

  template_tool.py local-routes
      The routes `sam local start-api` serves from template.yaml (SAM CLI's own API
      provider): JSON [[path, [methods], function's logical id], ...].

The PreTraffic hook's own code runs against the built function in hook_harness.py.
"""

import json
import os
import sys
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


def with_defaults(assignments):
    sam = template()
    for name, value in (a.split("=", 1) for a in assignments):
        if name not in sam["Parameters"]:
            sys.exit("not a parameter of template.yaml: %s" % name)
        sam["Parameters"][name]["Default"] = value
    json.dump(sam, sys.stdout, indent=1)


def local_routes():
    import logging

    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    logging.disable(logging.CRITICAL)
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"))
    functions = SamFunctionProvider(stacks)
    routes = [
        [r.path, sorted(r.methods), functions.get(r.function_name).function_id]
        for r in ApiProvider(stacks).api.routes
    ]
    json.dump(sorted(routes), sys.stdout)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "transform":
        transform(sys.argv[2:])
    elif command == "with-defaults":
        with_defaults(sys.argv[2:])
    elif command == "local-routes":
        local_routes()
    else:
        sys.exit(__doc__)
