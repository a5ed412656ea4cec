#!/usr/bin/env python3
"""Prints a content hash of the REST API's definition in template.yaml (16 hex digits).

    python3 scripts/api_hash.py [template.yaml]

scripts/deploy.sh passes it as the template's ApiDefinitionHash parameter, which
ApiGatewayDeployment's Description carries. A deployment is a snapshot of the API: without a
changed Deployment, CloudFormation updates a method, model, validator or gateway response and
the stage keeps serving the old snapshot. With the hash in the Description, any change to those
resources changes the Deployment too, and an unchanged API leaves it alone (no needless
redeploy on every run).

What is hashed: every AWS::ApiGateway::* resource that is part of what a deployment snapshots
(the RestApi, resources, methods, models, validators, gateway responses, authorizers), by
logical id, as canonical JSON of its whole definition (properties, condition, dependencies).
Not hashed: the Deployment itself, the Stage and the Account (they are not in the snapshot;
the Stage's settings apply without a redeployment). Parameter values the API resources
reference (ApiGatewayHTTPMethod) are not in the template: the Description names them itself,
which scripts/test_template.py checks.

Uses only the standard library plus PyYAML (for CloudFormation's short tags), so deploy.sh can
run it with any python3 that has PyYAML, or the project venv's.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import yaml

# Snapshotted by a deployment: a change to one of these needs a new deployment to be served.
SNAPSHOT_TYPES = {
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::DocumentationPart",
}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads `!Ref x` as {"Ref": "x"}, `!GetAtt a.b` as {"Fn::GetAtt": [a, b]}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load(text: str) -> dict:
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


def api_resources(template: dict) -> dict:
    return {
        logical: r
        for logical, r in template.get("Resources", {}).items()
        if r.get("Type") in SNAPSHOT_TYPES
    }


def api_hash(template: dict) -> str:
    canonical = json.dumps(api_resources(template), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "template.yaml"
    template = load(path.read_text(encoding="utf-8"))
    if not api_resources(template):
        print(f"api_hash: no API Gateway resources in {path}", file=sys.stderr)
        return 1
    print(api_hash(template))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
