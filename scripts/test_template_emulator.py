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
4. checks, through each service's own API, what the stack built: the six tables (keys,
   stream, indexes), the queues (OrdersQueue's visibility timeout
   and redrive policy), the three topics, the functions (runtime, architecture, handler,
   and environment variables resolved to the physical names of the contract's resources), the
   four event source mappings and their failure settings, the two state machines, the rules
   and their targets (RefundRequestedRule's: the refund state machine, through its role, with
   the input transformer), the two KMS keys (the personal-data key wraps and unwraps a data key
   under a customerId encryption context), the log groups, the REST API's routes, and the
   stack outputs;
5. sign-in: the user pool (email as username, its password policy enforced), the app client
   (no secret, the contract's flows), the admin group, the Cognito authorizer and which methods
   it guards; then signs a user up and in with the stack's client, as docs/aws-contract.md
   tells operators to, and checks the ID token's issuer (the UserPoolIssuer output), audience
   (the UserPoolClientId output), `email` and, once the user is in the admin group,
   `cognito:groups`.

Stock moto's CloudFormation has no model for AWS::Cognito::UserPool, UserPoolClient,
UserPoolGroup or AWS::ApiGateway::Authorizer and drops a method's AuthorizerId; the project's
emulator (shared/aws/emulator/moto_serialized.py) adds them (moto_cfn_models.py) with moto's own
cognito-idp and apigateway backends, which is what step 5 talks to.

What moto's CloudFormation does not build (it skips these types with a warning, so they are
not checked here; cfn-lint, checkov and scripts/test_template.py check their definitions):
AWS::CloudWatch::Alarm, AWS::ApiGateway::Stage, AWS::ApiGateway::Account,
AWS::ApiGateway::RequestValidator, AWS::ApiGateway::Model, AWS::ApiGateway::GatewayResponse,
AWS::SNS::Subscription, AWS::SNS::TopicPolicy, AWS::SQS::QueuePolicy, AWS::S3::BucketPolicy,
AWS::Lambda::EventInvokeConfig, AWS::WAFv2::WebACL and WebACLAssociation (EnableWaf is
"false" anyway). The SeedInventory custom resource is turned off (SeedSampleInventory=false):
moto would invoke the function, which needs Docker. moto also ignores a state machine's
`Definition` (it keeps only DefinitionString), so the definition is checked by
scripts/test_template.py and statelint instead; and a table's PointInTimeRecoverySpecification
(every table reads as DISABLED), so PITR (on every table but CustomerKeysTable) is checked by
scripts/test_template.py alone. The list of skipped types is printed from
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

import base64  # noqa: E402

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
    # The emulator's own additions (the server registers them the same way).
    sys.path.insert(0, str(ROOT / "shared" / "aws" / "emulator"))
    import moto_cfn_models

    moto_cfn_models.register()
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
        "NotificationDedupTable", "CustomerKeysTable",
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
        indexes = {
            i["IndexName"]: ({k["KeyType"]: k["AttributeName"] for k in i["KeySchema"]}, i["Projection"]["ProjectionType"])
            for i in tables["OrderStatusTable"].get("GlobalSecondaryIndexes", [])
        }
        check(indexes == {
            "bySweepShard": ({"HASH": "sweepShard", "RANGE": "sweepSince"}, "KEYS_ONLY"),
            "byCustomerKeys": ({"HASH": "customerId", "RANGE": "placedKey"}, "KEYS_ONLY"),
        }, f"OrderStatusTable has the sparse bySweepShard and the keys-only byCustomerKeys indexes ({indexes})")
    if "CustomerKeysTable" in tables:
        t = tables["CustomerKeysTable"]
        check("StreamSpecification" not in t or not t["StreamSpecification"].get("StreamEnabled"),
              "CustomerKeysTable has no stream (it would keep every written key 24 h past its deletion)")

    print("queues")
    queue_attrs = {}
    for logical, r in res.items():
        if r["Type"] != "AWS::SQS::Queue":
            continue
        url = physical.get(logical)
        check(url is not None, f"{logical} is a stack resource")
        if url:
            queue_attrs[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    queues = [logical for logical, r in res.items() if r["Type"] == "AWS::SQS::Queue"]
    check(len(queue_attrs) == len(queues), f"the template's {len(queues)} queues ({', '.join(sorted(queue_attrs))})")
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
        "CustomerKeysTable": physical.get("CustomerKeysTable"),
        "PersonalDataKey": physical.get("PersonalDataKey"),
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
        "StartOrderProcessingLambda", "EventProjectorLambda",
    }, f"mappings feed the queue consumer and the stream's one consumer ({', '.join(sorted(mappings))})")
    orders_queue_arn = queue_attrs.get("OrdersQueue", {}).get("QueueArn")
    for m in mappings.get("StartOrderProcessingLambda", []):
        check(m["EventSourceArn"] == orders_queue_arn, "StartOrderProcessingLambda reads OrdersQueue")
        check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], "queue mapping reports batch item failures")
    stream_arn = tables.get("OrderEventsTable", {}).get("LatestStreamArn")
    for logical in ("EventProjectorLambda",):
        for m in mappings.get(logical, []):
            check(m["EventSourceArn"] == stream_arn, f"{logical} reads the order-events stream")
            check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"] and m.get("BisectBatchOnFunctionError") is True
                  and m.get("MaximumRetryAttempts") == 10 and m.get("MaximumRecordAgeInSeconds") == 3600
                  and m.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                  == queue_attrs.get("StreamProcessingDeadLetterQueue", {}).get("QueueArn"),
                  f"{logical}: batch failures, bisect, 10 retries, 1 h, on-failure StreamProcessingDeadLetterQueue")

    print("state machines")
    for machine in ("OrderProcessingStateMachine", "RefundProcessingStateMachine"):
        sm_arn = physical.get(machine)
        check(sm_arn is not None, f"{machine} is a stack resource")
        if sm_arn:
            sm = sfn.describe_state_machine(stateMachineArn=sm_arn)
            check(sm["status"] == "ACTIVE", f"{machine} ({sm['name']}) is ACTIVE")
            check(sm["roleArn"].endswith(physical.get(f"{machine}Role", "?")), f"it runs as {machine}Role")

    print("EventBridge")
    for rule_logical, detail_types, handler, dlq in (
        ("OrderConfirmationRule", ["OrderCompleted"], "OrderSuccessHandlerLambda", "OrderConfirmationDeadLetterQueue"),
        ("OrderFailureRule", ["OrderFailed"], "OrderFailureHandlerLambda", "OrderFailureDeadLetterQueue"),
        ("OrderUpdateRule", ["OrderPlaced", "OrderCancelled", "OrderShipped", "RefundIssued"],
         "OrderUpdateHandlerLambda", "OrderUpdateDeadLetterQueue"),
    ):
        rule_name = physical.get(rule_logical)
        check(rule_name is not None, f"{rule_logical} is a stack resource")
        if rule_name:
            rule = events.describe_rule(Name=rule_name.split("|")[-1])
            check(json.loads(rule["EventPattern"]) == {"source": ["order-pipeline"], "detail-type": detail_types},
                  f"{rule_logical} matches order-pipeline / {', '.join(detail_types)}")
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            check([t["Arn"] for t in targets] == [function_arns.get(handler)], f"its target is {handler}")
            check(all(t.get("DeadLetterConfig", {}).get("Arn") == queue_attrs.get(dlq, {}).get("QueueArn")
                      for t in targets), f"its target dead-letters to {dlq}")

    rule_name = physical.get("RefundRequestedRule")
    check(rule_name is not None, "RefundRequestedRule is a stack resource")
    if rule_name:
        rule = events.describe_rule(Name=rule_name.split("|")[-1])
        check(json.loads(rule["EventPattern"]) == {"source": ["order-pipeline"], "detail-type": ["RefundRequested"]},
              "RefundRequestedRule matches order-pipeline / RefundRequested")
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        check(target["Arn"] == physical.get("RefundProcessingStateMachine"), "its target is RefundProcessingStateMachine")
        check(target.get("RoleArn", "").endswith(physical.get("RefundRequestedRuleRole", "?")),
              "EventBridge starts it as RefundRequestedRuleRole")
        check(target.get("InputTransformer", {}).get("InputPathsMap") == {"orderId": "$.detail.orderId", "refundId": "$.detail.refundId"},
              "its input is the refund's two ids")
        check(target.get("DeadLetterConfig", {}).get("Arn") == queue_attrs.get("RefundRequestedDeadLetterQueue", {}).get("QueueArn"),
              "its target dead-letters to RefundRequestedDeadLetterQueue")

    print("key, logs, roles, API")
    # (moto's DescribeKey fails on keys CloudFormation created, so the key is found by its alias.)
    key_id = physical.get("PipelineKey")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in client("kms").list_aliases()["Aliases"]}
    check(key_id is not None and aliases.get(physical.get("PipelineKeyAlias")) == key_id,
          f"PipelineKey exists with alias {physical.get('PipelineKeyAlias')}")
    check_personal_data_key(physical)
    groups = {
        g["logGroupName"]: g for page in client("logs").get_paginator("describe_log_groups").paginate()
        for g in page["logGroups"]
    }
    for binary in spec.CONTRACT.binaries:
        logical = spec.logical_id_of_binary(binary)
        name = f"/aws/lambda/{physical.get(logical)}"
        check(groups.get(name, {}).get("retentionInDays") == 30, f"{name} kept 30 days")
    # ApiGatewayCloudWatchRole exists only with SetApiGatewayAccountRole=true (default false):
    # the stack must not repoint the account's API Gateway logging role unless asked.
    roles = [logical for logical, r in res.items() if r["Type"] == "AWS::IAM::Role" and "Condition" not in r]
    check(all(logical not in physical for logical, r in res.items() if r.get("Condition") == "SetAccountRole"),
          "no account CloudWatch role by default (SetApiGatewayAccountRole=false)")
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
            "/": ["POST"], "/orders": ["GET", "POST"], "/orders/{id}": ["GET"], "/orders/{id}/events": ["GET"],
            "/orders/{id}/cancel": ["POST"], "/orders/{id}/shipment": ["POST"], "/orders/{id}/refunds": ["POST"],
            "/customers": [], "/customers/{customerId}": ["DELETE"],
            "/inventory": [], "/inventory/{productId}": ["GET"], "/health": ["GET"],
        }, f"REST API routes {paths}")
    check(outputs.get("ApiUrl", "").startswith(f"https://{api_id}.execute-api."), f"output ApiUrl {outputs.get('ApiUrl')}")
    check(outputs.get("EventsTable") == physical.get("OrderEventsTable"), "output EventsTable names the events table")
    check(outputs.get("CustomerKeysTableName") == physical.get("CustomerKeysTable"), "output CustomerKeysTableName")
    check(outputs.get("PersonalDataKeyId") == physical.get("PersonalDataKey"), "output PersonalDataKeyId")

    print("sign-in")
    check_sign_in(physical, outputs, api_id)


def check_personal_data_key(physical: dict) -> None:
    """PersonalDataKey wraps a data key under a customerId context and unwraps it only with it."""
    kms = client("kms")
    key_id = physical.get("PersonalDataKey")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    check(key_id is not None and aliases.get(physical.get("PersonalDataKeyAlias")) == key_id,
          f"PersonalDataKey exists with alias {physical.get('PersonalDataKeyAlias')}")
    if key_id is None:
        return
    context = {"customerId": "c-test"}
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    check(len(data_key["Plaintext"]) == 32, "GenerateDataKey under PersonalDataKey gives a 256-bit data key")
    opened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], KeyId=key_id, EncryptionContext=context)
    check(opened["Plaintext"] == data_key["Plaintext"], "Decrypt with the same customerId context unwraps it")
    try:
        kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], KeyId=key_id, EncryptionContext={"customerId": "c-other"})
        check(False, "Decrypt under another customer's context is refused")
    except kms.exceptions.InvalidCiphertextException:
        check(True, "Decrypt under another customer's context is refused")


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def check_sign_in(physical: dict, outputs: dict, api_id: str | None) -> None:
    idp, apigw = client("cognito-idp"), client("apigateway")
    pool_id, client_id = physical.get("OrdersUserPool"), physical.get("OrdersUserPoolClient")
    check(pool_id is not None and outputs.get("UserPoolId") == pool_id, f"OrdersUserPool exists, output UserPoolId {pool_id}")
    check(client_id is not None and outputs.get("UserPoolClientId") == client_id, f"OrdersUserPoolClient exists, output UserPoolClientId {client_id}")
    if not pool_id or not client_id or not api_id:
        return
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    check(pool.get("UsernameAttributes") == ["email"], "the pool's username is the email address")
    check(pool.get("DeletionProtection") == "ACTIVE", "the pool is protected from deletion")
    check(pool.get("MfaConfiguration") in ("OFF", "OPTIONAL"), f"MFA is not required ({pool.get('MfaConfiguration')})")
    app = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    check("ClientSecret" not in app, "the app client has no secret")
    check(set(app.get("ExplicitAuthFlows", [])) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"},
          f"the app client's flows {app.get('ExplicitAuthFlows')}")
    groups = [g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]]
    check(groups == ["admin"], f"the pool's groups {groups}")

    # The authorizer, and which methods it guards (the root method included, the public ones not).
    authorizers = apigw.get_authorizers(restApiId=api_id)["items"]
    check([(a["type"], a.get("providerARNs"), a.get("identitySource")) for a in authorizers]
          == [("COGNITO_USER_POOLS", [pool["Arn"]], "method.request.header.Authorization")],
          "one COGNITO_USER_POOLS authorizer on OrdersUserPool, reading the Authorization header")
    authorizer_id = authorizers[0]["id"] if authorizers else None
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id, limit=500)["items"]}
    guarded, public = {}, {}
    for path, r in resources.items():
        for verb in r.get("resourceMethods", {}):
            m = apigw.get_method(restApiId=api_id, resourceId=r["id"], httpMethod=verb)
            target = public if m["authorizationType"] == "NONE" else guarded
            target[f"{verb} {path}"] = (m["authorizationType"], m.get("authorizerId"))
    check(set(public) == {"GET /inventory/{productId}", "GET /health"}, f"public methods {sorted(public)}")
    check(set(guarded) == {"POST /", "POST /orders", "GET /orders", "GET /orders/{id}", "GET /orders/{id}/events",
                           "POST /orders/{id}/cancel", "POST /orders/{id}/shipment", "POST /orders/{id}/refunds",
                           "DELETE /customers/{customerId}"}
          and all(v == ("COGNITO_USER_POOLS", authorizer_id) for v in guarded.values()),
          f"every order method has the Cognito authorizer ({guarded})")

    # Sign up and in as docs/aws-contract.md says (the boto3 spelling of the same calls).
    email = "ann@example.com"
    try:
        idp.sign_up(ClientId=client_id, Username=email, Password="Short-pw-1",
                    UserAttributes=[{"Name": "email", "Value": email}])
        check(False, "a 10-character password is refused by the pool's policy")
    except idp.exceptions.InvalidPasswordException:
        check(True, "a 10-character password is refused by the pool's policy")
    password = "Correct-horse-42"
    idp.sign_up(ClientId=client_id, Username=email, Password=password, UserAttributes=[{"Name": "email", "Value": email}])
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=email)

    def id_token() -> dict:
        result = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]
        return jwt_claims(result["IdToken"])

    claims = id_token()
    check(claims.get("iss") == outputs.get("UserPoolIssuer"), f"the ID token's iss is the UserPoolIssuer output ({claims.get('iss')})")
    check(claims.get("aud") == client_id and claims.get("token_use") == "id", "the ID token's aud is the app client")
    check(claims.get("email") == email and bool(claims.get("sub")), "the ID token carries sub and email")
    check("cognito:groups" not in claims, "a customer's token names no group")
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName="admin")
    check(id_token().get("cognito:groups") == ["admin"], "a member of the admin group gets cognito:groups [admin]")


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
