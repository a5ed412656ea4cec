#!/usr/bin/env python3
"""Deploys template.yaml on the emulator as scripts/deploy.sh deploys it on AWS, and prints, as
one JSON document on stdout, what the emulator built: what tests/stack needs to play Lambda.

    AWS_ENDPOINT_URL=http://127.0.0.1:5000 .venv/bin/python tests/stack/deploy_stack.py

Steps (those of scripts/test_template_emulator.py): the first-step stack (the code bucket
alone), a placeholder zip at every function's S3 key (the emulator never runs them: the
harness runs the release binaries), then the whole template with the sample inventory seeded
(its custom resource's request is recorded by the emulator, shared/aws/emulator/
moto_invocations.py, for the harness to hand to the function).

Everything printed is read back through the services' own APIs (CloudFormation, Lambda,
EventBridge, Step Functions, API Gateway), not from the template, so a variable the template
forgets or a filter it mistypes shows in what the harness runs. The one exception is stated
where it is made: nothing here falls back to the template's text.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL")
if not ENDPOINT:
    sys.exit("deploy_stack: AWS_ENDPOINT_URL is not set (start the emulator first)")

import boto3  # noqa: E402
from cfnlint.decode import cfn_yaml  # noqa: E402

REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
SESSION = boto3.Session(region_name=REGION)


def client(service: str):
    return SESSION.client(service, endpoint_url=ENDPOINT)


CF = client("cloudformation")


def log(message: str) -> None:
    print(f"deploy_stack: {message}", file=sys.stderr)


def wait_for(stack: str, wanted: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        desc = CF.describe_stacks(StackName=stack)["Stacks"][0]
        status = desc["StackStatus"]
        if status == wanted:
            return desc
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            events = CF.describe_stack_events(StackName=stack)["StackEvents"][:10]
            reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events]
            sys.exit(f"deploy_stack: stack {stack} is {status}, wanted {wanted}:\n  " + "\n  ".join(reasons))
        time.sleep(0.5)


def placeholder_zip(key: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, f"#!/bin/sh\necho {key}: a placeholder; tests/stack runs the release binary\nexit 1\n")
    return buf.getvalue()


def code_keys(template: dict, code_version: str) -> list[str]:
    """The S3 keys the functions' code is read from (`!Sub "${CodeVersion}/<binary>.zip"`)."""
    keys = []
    for r in template["Resources"].values():
        if r["Type"] != "AWS::Lambda::Function":
            continue
        key = r["Properties"]["Code"]["S3Key"]
        if isinstance(key, dict):
            key = key["Fn::Sub"]
        keys.append(key.replace("${CodeVersion}", code_version))
    return keys


def deploy() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    stack, bucket, code_version = f"ops-{suffix}", f"order-stack-code-{suffix}", f"stack-{suffix}"
    template_text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    template = cfn_yaml.loads(template_text)
    bootstrap = subprocess.run(
        ["bash", str(ROOT / "scripts" / "deploy.sh"), "--bootstrap-template"],
        check=True, capture_output=True, text=True,
    ).stdout
    CF.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(cfn_yaml.loads(bootstrap)),
        Parameters=[{"ParameterKey": "LambdaCodeBucketName", "ParameterValue": bucket}],
    )
    wait_for(stack, "CREATE_COMPLETE")
    s3 = client("s3")
    for key in code_keys(template, code_version):
        s3.put_object(Bucket=bucket, Key=key, Body=placeholder_zip(key))
    params = {
        "NotificationEmailName": "ops@example.com",
        "LambdaCodeBucketName": bucket,
        "CodeVersion": code_version,
        "SeedSampleInventory": "true",
        "EnableWaf": "false",
    }
    declared = template.get("Parameters", {})
    CF.update_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items() if k in declared],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    wait_for(stack, "UPDATE_COMPLETE")
    log(f"stack {stack} deployed (code s3://{bucket}/{code_version}/)")
    return stack, code_version


def describe(stack: str, code_version: str) -> dict:
    resources: dict[str, dict] = {}
    for page in CF.get_paginator("list_stack_resources").paginate(StackName=stack):
        for r in page["StackResourceSummaries"]:
            resources[r["LogicalResourceId"]] = {"type": r["ResourceType"], "physical": r["PhysicalResourceId"]}

    def of_type(kind: str) -> dict[str, str]:
        return {logical: r["physical"] for logical, r in resources.items() if r["type"] == kind}

    lam, events, sfn, apigw = client("lambda"), client("events"), client("stepfunctions"), client("apigateway")
    functions = []
    for logical, name in sorted(of_type("AWS::Lambda::Function").items()):
        got = lam.get_function(FunctionName=name)
        cfg = got["Configuration"]
        location = got.get("Code", {}).get("Location", "")
        # The code's key is `<CodeVersion>/<binary>.zip`: the binary is its last part.
        key = location.split(f"/{code_version}/", 1)[-1] if f"/{code_version}/" in location else ""
        functions.append({
            "logicalId": logical,
            "name": name,
            "arn": cfg["FunctionArn"],
            "binary": key.removesuffix(".zip"),
            "environment": cfg.get("Environment", {}).get("Variables", {}),
            "timeoutSeconds": cfg.get("Timeout", 3),
            "memoryMb": cfg.get("MemorySize", 128),
        })
    arns = {f["arn"] for f in functions}

    mappings = []
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for m in page["EventSourceMappings"]:
            if m["FunctionArn"] not in arns:
                continue
            filters = (m.get("FilterCriteria") or {}).get("Filters") or []
            mappings.append({
                "uuid": m["UUID"],
                "functionArn": m["FunctionArn"],
                "eventSourceArn": m["EventSourceArn"],
                "batchSize": m.get("BatchSize") or 10,
                "enabled": m.get("State", "Enabled") == "Enabled",
                "startingPosition": m.get("StartingPosition"),
                "filters": [f["Pattern"] for f in filters],
                "functionResponseTypes": m.get("FunctionResponseTypes") or [],
                "maximumBatchingWindowInSeconds": m.get("MaximumBatchingWindowInSeconds") or 0,
            })

    rules = []
    for logical, physical in sorted(of_type("AWS::Events::Rule").items()):
        # moto names a rule's physical id by its name (or its ARN on some versions).
        name = physical.split("/")[-1]
        rule = events.describe_rule(Name=name)
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        rules.append({
            "logicalId": logical,
            "name": name,
            "arn": rule.get("Arn"),
            "state": rule.get("State"),
            "eventPattern": rule.get("EventPattern"),
            "scheduleExpression": rule.get("ScheduleExpression"),
            "targets": [{"id": t["Id"], "arn": t["Arn"], "input": t.get("Input")} for t in targets],
        })

    machines = []
    for logical, arn in sorted(of_type("AWS::StepFunctions::StateMachine").items()):
        desc = sfn.describe_state_machine(stateMachineArn=arn)
        machines.append({"logicalId": logical, "arn": arn, "name": desc["name"], "definition": desc["definition"]})

    routes = []
    apis = of_type("AWS::ApiGateway::RestApi")
    for logical, api_id in apis.items():
        for r in apigw.get_resources(restApiId=api_id, limit=500)["items"]:
            for verb in r.get("resourceMethods", {}) or {}:
                method = apigw.get_method(restApiId=api_id, resourceId=r["id"], httpMethod=verb)
                uri = (method.get("methodIntegration") or {}).get("uri", "")
                # arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations
                fn = uri.split("/functions/", 1)[-1].removesuffix("/invocations") if "/functions/" in uri else None
                routes.append({
                    "api": logical,
                    "restApiId": api_id,
                    "resourceId": r["id"],
                    "path": r["path"],
                    "method": verb,
                    "authorizationType": method.get("authorizationType", "NONE"),
                    "functionArn": fn,
                })

    desc = CF.describe_stacks(StackName=stack)["Stacks"][0]
    return {
        "stackName": stack,
        "stackId": desc["StackId"],
        "region": REGION,
        "codeVersion": code_version,
        "resources": resources,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])},
        "functions": functions,
        "eventSourceMappings": mappings,
        "rules": rules,
        "stateMachines": machines,
        "routes": routes,
        "topics": of_type("AWS::SNS::Topic"),
        "queues": of_type("AWS::SQS::Queue"),
    }


def main() -> int:
    stack, code_version = deploy()
    json.dump(describe(stack, code_version), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
