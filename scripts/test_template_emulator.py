#!/usr/bin/env python3
"""Deploys template.yaml on the AWS emulator's CloudFormation (moto) and checks what it built.

    AWS_ENDPOINT_URL=http://127.0.0.1:5000 .venv/bin/python scripts/test_template_emulator.py

scripts/test.sh starts moto and exports AWS_ENDPOINT_URL and test credentials. Without
AWS_ENDPOINT_URL the test is skipped with a message, except under CI=true, where it fails.

It follows scripts/deploy.sh step by step:
1. creates the stack from the first-step template (`scripts/deploy.sh --bootstrap-template`:
   LambdaCodeBucket and its policy alone) and waits for CREATE_COMPLETE;
2. uploads a dummy zip for every binary of docs/aws-contract.md to
   s3://<bucket>/<CodeVersion>/<binary>.zip;
3. updates the stack to the whole template.yaml and waits for UPDATE_COMPLETE;
4. checks, through each service's own API, what the stack built: the five tables (keys,
   stream, index), the five queues (OrdersQueue's visibility timeout and redrive policy), the
   three topics, the eleven functions (runtime, architecture, handler, and environment
   variables resolved to the physical names of the contract's resources), the four event
   source mappings and their failure settings, the state machine and its type, the rule and
   its target, the KMS key, the log groups, the REST API's routes, and the stack outputs.

What moto's CloudFormation does not build (it skips these types with a warning, so they are
not checked here; cfn-lint, checkov and scripts/test_template.py check their definitions):
AWS::CloudWatch::Alarm, AWS::ApiGateway::Stage, AWS::ApiGateway::Account,
AWS::ApiGateway::RequestValidator, AWS::ApiGateway::Model, AWS::ApiGateway::GatewayResponse,
AWS::SNS::Subscription, AWS::SNS::TopicPolicy, AWS::SQS::QueuePolicy, AWS::S3::BucketPolicy,
AWS::Lambda::EventInvokeConfig, AWS::WAFv2::WebACL and WebACLAssociation (EnableWaf is
"false" anyway). The SeedInventory custom resource is turned off (SeedSampleInventory=false):
moto would invoke the function, which needs Docker. moto also ignores a state machine's
`Definition` (it keeps only DefinitionString), so the definition is checked by
scripts/test_template.py and statelint instead. The list of skipped types is printed from
moto's own registry when moto is importable.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL")
if not ENDPOINT:
    if os.environ.get("CI") == "true":
        print("test_template_emulator: FAIL: AWS_ENDPOINT_URL is not set under CI=true (start moto first)", file=sys.stderr)
        sys.exit(1)
    print("test_template_emulator: skipped: AWS_ENDPOINT_URL is not set (scripts/test.sh starts moto and sets it)")
    sys.exit(0)

import boto3  # noqa: E402  (moto brings boto3; imported only when there is an emulator)
from cfnlint.decode import cfn_yaml  # noqa: E402

import test_template as spec  # noqa: E402  (the contract parser and naming of the static test)

REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
SESSION = boto3.Session(region_name=REGION)


def client(service: str):
    return SESSION.client(service, endpoint_url=ENDPOINT)


CF = client("cloudformation")
FAILURES: list[str] = []


def check(condition: bool, what: str) -> None:
    print(("  ok    " if condition else "  FAIL  ") + what)
    if not condition:
        FAILURES.append(what)


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
            raise SystemExit(f"stack {stack} is {status}, wanted {wanted}:\n  " + "\n  ".join(reasons))
        time.sleep(0.5)


def as_json(yaml_text: str) -> str:
    """The template as JSON (the same document: short-form tags become Fn:: objects)."""
    return json.dumps(cfn_yaml.loads(yaml_text))


def dummy_zip(binary: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, f"#!/bin/sh\necho {binary}: a placeholder, not the real binary\nexit 1\n")
    return buf.getvalue()


def print_skipped_types(template: dict) -> None:
    try:
        from moto.cloudformation.parsing import get_model_map
    except ImportError:
        return
    supported = set(get_model_map())
    skipped = sorted({r["Type"] for r in template["Resources"].values()} - supported)
    print("moto's CloudFormation skips these types of the template (not checked here): " + ", ".join(skipped))


def main() -> int:
    suffix = uuid.uuid4().hex[:8]
    stack = f"op-{suffix}"
    bucket = f"order-pipeline-code-{suffix}"
    code_version = f"test-{suffix}"
    template_text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    template = cfn_yaml.loads(template_text)
    print(f"emulator {ENDPOINT}, stack {stack}")
    print_skipped_types(template)

    # 1. The first step: the code bucket alone.
    bootstrap = subprocess.run(
        ["bash", str(ROOT / "scripts" / "deploy.sh"), "--bootstrap-template"],
        check=True, capture_output=True, text=True,
    ).stdout
    CF.create_stack(
        StackName=stack,
        TemplateBody=as_json(bootstrap),
        Parameters=[{"ParameterKey": "LambdaCodeBucketName", "ParameterValue": bucket}],
    )
    wait_for(stack, "CREATE_COMPLETE")
    s3 = client("s3")
    print("step 1: bootstrap stack")
    check(s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200, f"code bucket {bucket} exists (CREATE_COMPLETE)")
    try:
        enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        check(enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", "code bucket encrypted with AES256")
    except s3.exceptions.ClientError as e:  # pragma: no cover - depends on the emulator
        check(False, f"code bucket encryption readable ({e})")

    # 2. The code.
    for binary in spec.CONTRACT.binaries:
        s3.put_object(Bucket=bucket, Key=f"{code_version}/{binary}.zip", Body=dummy_zip(binary))
    print(f"step 2: uploaded {len(spec.CONTRACT.binaries)} dummy zips to s3://{bucket}/{code_version}/")

    # 3. The whole template.
    params = {
        "NotificationEmailName": "ops@example.com",
        "LambdaCodeBucketName": bucket,
        "CodeVersion": code_version,
        "SeedSampleInventory": "false",
        "EnableWaf": "false",
    }
    CF.update_stack(
        StackName=stack,
        TemplateBody=as_json(template_text),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    desc = wait_for(stack, "UPDATE_COMPLETE")
    print("step 3: whole template (UPDATE_COMPLETE)")
    physical = {}
    paginator = CF.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack):
        for r in page["StackResourceSummaries"]:
            physical[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}

    try:
        check_resources(template, physical, outputs)
    finally:
        cleanup(stack, bucket, physical)
    if FAILURES:
        print(f"test_template_emulator: {len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    print("test_template_emulator: all checks passed")
    return 0


def check_resources(template: dict, physical: dict, outputs: dict) -> None:
    res = template["Resources"]
    ddb, sqs, sns = client("dynamodb"), client("sqs"), client("sns")
    lam, sfn, events = client("lambda"), client("stepfunctions"), client("events")

    print("tables")
    tables = {}
    for logical in (
        "OrderEventsTable", "OrderStatusTable", "InventoryTable", "IdempotencyTable",
        "NotificationDedupTable",
    ):
        name = physical.get(logical)
        check(name is not None, f"{logical} is a stack resource")
        if name is None:
            continue
        t = ddb.describe_table(TableName=name)["Table"]
        tables[logical] = t
        want = {k["KeyType"]: k["AttributeName"] for k in res[logical]["Properties"]["KeySchema"]}
        got = {k["KeyType"]: k["AttributeName"] for k in t["KeySchema"]}
        check(got == want, f"{logical} ({name}) key schema {want}")
    if "OrderEventsTable" in tables:
        t = tables["OrderEventsTable"]
        check(t.get("StreamSpecification", {}).get("StreamViewType") == "NEW_IMAGE", "OrderEventsTable streams NEW_IMAGE")
        check(bool(t.get("LatestStreamArn")), "OrderEventsTable has a stream ARN")
    if "OrderStatusTable" in tables:
        indexes = [i["IndexName"] for i in tables["OrderStatusTable"].get("GlobalSecondaryIndexes", [])]
        check(indexes == ["bySweepStatus"], "OrderStatusTable has the sparse bySweepStatus index")

    print("queues")
    queue_attrs = {}
    for logical, r in res.items():
        if r["Type"] != "AWS::SQS::Queue":
            continue
        url = physical.get(logical)
        check(url is not None, f"{logical} is a stack resource")
        if url:
            queue_attrs[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    check(len(queue_attrs) == 5, f"five queues ({', '.join(sorted(queue_attrs))})")
    if "OrdersQueue" in queue_attrs:
        attrs = queue_attrs["OrdersQueue"]
        check(attrs.get("VisibilityTimeout") == "180", "OrdersQueue VisibilityTimeout 180 (6 x 30 s)")
        redrive = json.loads(attrs.get("RedrivePolicy", "{}"))
        dlq_arn = queue_attrs.get("OrdersDeadLetterQueue", {}).get("QueueArn")
        check(redrive.get("deadLetterTargetArn") == dlq_arn and int(redrive.get("maxReceiveCount", 0)) == 5,
              "OrdersQueue redrives to OrdersDeadLetterQueue after 5 receives")

    print("topics")
    for logical in ("OrderAlertsTopic", "OrderErrorNotificationTopic", "CriticalAlertsTopic"):
        arn = physical.get(logical)
        check(arn is not None, f"{logical} is a stack resource")
        if arn:
            attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
            check(bool(attrs.get("KmsMasterKeyId")), f"{logical} encrypted (KmsMasterKeyId set)")

    print("functions")
    resolved = {
        "OrderEventsTable": physical.get("OrderEventsTable"),
        "OrderStatusTable": physical.get("OrderStatusTable"),
        "InventoryTable": physical.get("InventoryTable"),
        "IdempotencyTable": physical.get("IdempotencyTable"),
        "NotificationDedupTable": physical.get("NotificationDedupTable"),
        "OrdersQueue": physical.get("OrdersQueue"),
        "OrderProcessingStateMachine": physical.get("OrderProcessingStateMachine"),
        "OrderAlertsTopic": physical.get("OrderAlertsTopic"),
        "OrderErrorNotificationTopic": physical.get("OrderErrorNotificationTopic"),
        "CriticalAlertsTopic": physical.get("CriticalAlertsTopic"),
    }
    function_arns = {}
    for binary, contract in spec.CONTRACT.binaries.items():
        logical = spec.logical_id_of_binary(binary)
        name = physical.get(logical)
        check(name is not None, f"{logical} is a stack resource")
        if not name:
            continue
        cfg = lam.get_function(FunctionName=name)["Configuration"]
        function_arns[logical] = cfg["FunctionArn"]
        fprops = res[logical]["Properties"]
        # moto keeps Runtime, Handler, MemorySize, Timeout and Environment of a CloudFormation
        # function, not Architectures, TracingConfig or LoggingConfig (test_template.py checks them).
        check(
            cfg.get("Runtime") == "provided.al2023" and cfg.get("Handler") == "bootstrap"
            and cfg.get("MemorySize") == fprops["MemorySize"] and cfg.get("Timeout") == fprops["Timeout"],
            f"{logical} ({name}): provided.al2023, bootstrap, {fprops['MemorySize']} MB, {fprops['Timeout']} s",
        )
        env = cfg.get("Environment", {}).get("Variables", {})
        want = {}
        for var in contract["env"]:
            target = spec.CONTRACT.resources[var]["logical"]
            want[var] = "default" if var == "EVENT_BUS_NAME" else resolved.get(target)
        check(env == want, f"{logical} environment = the contract's variables, naming the stack's resources")

    print("event source mappings")
    mappings = {}
    by_arn = {arn: logical for logical, arn in function_arns.items()}
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for m in page["EventSourceMappings"]:
            if m["FunctionArn"] in by_arn:
                mappings.setdefault(by_arn[m["FunctionArn"]], []).append(m)
    check(set(mappings) == {
        "StartOrderProcessingLambda", "OrderStatusProjectorLambda", "InventoryProjectorLambda", "TerminalEventForwarderLambda",
    }, f"mappings feed the queue consumer and the three stream consumers ({', '.join(sorted(mappings))})")
    orders_queue_arn = queue_attrs.get("OrdersQueue", {}).get("QueueArn")
    for m in mappings.get("StartOrderProcessingLambda", []):
        check(m["EventSourceArn"] == orders_queue_arn, "StartOrderProcessingLambda reads OrdersQueue")
        check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], "queue mapping reports batch item failures")
    stream_arn = tables.get("OrderEventsTable", {}).get("LatestStreamArn")
    for logical in ("OrderStatusProjectorLambda", "InventoryProjectorLambda", "TerminalEventForwarderLambda"):
        for m in mappings.get(logical, []):
            check(m["EventSourceArn"] == stream_arn, f"{logical} reads the order-events stream")
            check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"] and m.get("BisectBatchOnFunctionError") is True
                  and m.get("MaximumRetryAttempts") == 10 and m.get("MaximumRecordAgeInSeconds") == 3600
                  and m.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                  == queue_attrs.get("StreamProcessingDeadLetterQueue", {}).get("QueueArn"),
                  f"{logical}: batch failures, bisect, 10 retries, 1 h, on-failure StreamProcessingDeadLetterQueue")

    print("state machine")
    sm_arn = physical.get("OrderProcessingStateMachine")
    check(sm_arn is not None, "OrderProcessingStateMachine is a stack resource")
    if sm_arn:
        sm = sfn.describe_state_machine(stateMachineArn=sm_arn)
        check(sm["status"] == "ACTIVE", f"OrderProcessingStateMachine ({sm['name']}) is ACTIVE")
        check(sm["roleArn"].endswith(physical.get("OrderProcessingStateMachineRole", "?")), "it runs as OrderProcessingStateMachineRole")

    print("EventBridge")
    rule_name = physical.get("OrderConfirmationRule")
    check(rule_name is not None, "OrderConfirmationRule is a stack resource")
    if rule_name:
        rule = events.describe_rule(Name=rule_name.split("|")[-1])
        check(json.loads(rule["EventPattern"]) == {"source": ["order-pipeline"], "detail-type": ["OrderCompleted"]},
              "OrderConfirmationRule matches order-pipeline / OrderCompleted")
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        check([t["Arn"] for t in targets] == [function_arns.get("OrderSuccessHandlerLambda")], "its target is OrderSuccessHandlerLambda")
        check(all(t.get("DeadLetterConfig", {}).get("Arn") == queue_attrs.get("OrderConfirmationDeadLetterQueue", {}).get("QueueArn")
                  for t in targets), "its target dead-letters to OrderConfirmationDeadLetterQueue")

    print("key, logs, roles, API")
    # (moto's DescribeKey fails on keys CloudFormation created, so the key is found by its alias.)
    key_id = physical.get("PipelineKey")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in client("kms").list_aliases()["Aliases"]}
    check(key_id is not None and aliases.get(physical.get("PipelineKeyAlias")) == key_id,
          f"PipelineKey exists with alias {physical.get('PipelineKeyAlias')}")
    groups = {
        g["logGroupName"]: g for page in client("logs").get_paginator("describe_log_groups").paginate()
        for g in page["logGroups"]
    }
    for binary in spec.CONTRACT.binaries:
        logical = spec.logical_id_of_binary(binary)
        name = f"/aws/lambda/{physical.get(logical)}"
        check(groups.get(name, {}).get("retentionInDays") == 30, f"{name} kept 30 days")
    roles = [logical for logical, r in res.items() if r["Type"] == "AWS::IAM::Role"]
    iam = client("iam")
    check(all(iam.get_role(RoleName=physical[r])["Role"] for r in roles if r in physical) and all(r in physical for r in roles),
          f"{len(roles)} roles exist")
    api_id = physical.get("ApiGateway")
    check(api_id is not None, "ApiGateway is a stack resource")
    if api_id:
        apigw = client("apigateway")
        items = apigw.get_resources(restApiId=api_id, limit=500)["items"]
        paths = {i["path"]: sorted(i.get("resourceMethods", {})) for i in items}
        check(paths == {
            "/": ["POST"], "/orders": ["POST"], "/orders/{id}": ["GET"], "/orders/{id}/events": ["GET"],
            "/inventory": [], "/inventory/{productId}": ["GET"], "/health": ["GET"],
        }, f"REST API routes {paths}")
    check(outputs.get("ApiUrl", "").startswith(f"https://{api_id}.execute-api."), f"output ApiUrl {outputs.get('ApiUrl')}")
    check(outputs.get("EventsTable") == physical.get("OrderEventsTable"), "output EventsTable names the events table")


def cleanup(stack: str, bucket: str, physical: dict) -> None:
    """Best effort: the emulator is thrown away after the run anyway."""
    try:
        CF.delete_stack(StackName=stack)
        s3 = client("s3")
        for v in s3.list_object_versions(Bucket=bucket).get("Versions", []):
            s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        s3.delete_bucket(Bucket=bucket)
    except Exception as e:  # noqa: BLE001
        print(f"(cleanup: {e})")


if __name__ == "__main__":
    sys.exit(main())
