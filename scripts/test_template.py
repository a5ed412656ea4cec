#!/usr/bin/env python3
"""Checks template.yaml against the contract it deploys.

Run with the project venv's python (it reads the template with cfn-lint's own YAML loader):

    .venv/bin/python scripts/test_template.py

What it holds the template to:
- docs/aws-contract.md: every binary has exactly one AWS::Lambda::Function (provided.al2023,
  arm64, handler `bootstrap`, code <CodeVersion>/<binary>.zip in LambdaCodeBucket) whose
  environment variables are exactly the contract's for that binary, each naming the contract's
  resource; tables have the contract's key schemas, stream, index and TTL; each state machine's
  DefinitionSubstitutions are the contract's names, cover every `${...}` placeholder of its ASL
  file and name real functions and topics.
- shared/workflow/order-processing.asl.json and refund-processing.asl.json: each state machine's
  inlined Definition equals its file (else run `python3 scripts/sync-asl.py`).
- The refund workflow (issue 14): RefundRequestedRule starts RefundProcessingStateMachine on
  RefundRequested with `{"orderId","refundId"}` as input, through a role that may only start it,
  with a retry policy and a dead-letter queue; its failed executions page CriticalAlertsTopic.
- The original system's logical IDs and parameters, kept; batch failure reporting, bisect,
  retry caps, record age, on-failure destinations, visibility timeout = 6 x the consumer's
  timeout, rule-target DLQ and retry policy, topic policies, FailedInvocations alarm.
- Least privilege: one role per function, no wildcard in any allowed action, `Resource: "*"`
  only for the actions that have no resource-level permissions.
- Sign-in (issue 12): every API route but GET /inventory/{productId} and GET /health (a new one
  included) has OrdersCognitoAuthorizer (COGNITO_USER_POOLS on OrdersUserPool, ID token: no
  scopes); the authorizer's 401/403 are the router's JSON errors with `WWW-Authenticate: Bearer`;
  the pool signs in by email with a sane password policy and is kept; the app client has no
  secret and the password, SRP and refresh flows; the `admin` group; the outputs.
- Personal data (issue 12): PersonalDataKey (symmetric, rotated, kept, IAM-managed);
  CustomerKeysTable (PK customerId, no PITR and no stream: erasure is final); exactly
  order-placement, process-payment, order-success-handler and order-update-handler may use them,
  with exactly the
  actions of docs/aws-contract.md and only with the customerId encryption context, and exactly
  they get CUSTOMER_KEYS_TABLE and KMS_KEY_ID; the byCustomerKeys index (keys only), queried by
  order-placement alone, which alone reads OrderStatusTable's rows back in batches.
- scripts/deploy.sh: builds and uploads exactly the contract's binaries, and its first-step
  template is the template's code bucket, unchanged.
- CloudFormation itself: no YAML anchors or aliases (CloudFormation rejects them), every
  checkov suppression carries a written reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unittest
from pathlib import Path

import yaml
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
CONTRACT_PATH = ROOT / "docs" / "aws-contract.md"
# Each state machine, its definition file and its type parameter.
MACHINES = {
    "OrderProcessingStateMachine": (ROOT / "shared" / "workflow" / "order-processing.asl.json", "WorkflowType"),
    "RefundProcessingStateMachine": (ROOT / "shared" / "workflow" / "refund-processing.asl.json", "RefundWorkflowType"),
}
DEPLOY_PATH = ROOT / "scripts" / "deploy.sh"

# The original system's logical IDs and parameters, kept (users' dashboards and scripts name them).
DESIGN_LOGICAL_IDS = [
    "ApiGateway", "ApiGatewayRootMethod", "ApiGatewayDeployment", "OrderPlacementLambda",
    "ValidateOrderLambda", "ProcessPaymentLambda", "UpdateInventoryLambda",
    "StartOrderProcessingLambda", "OrderSuccessHandlerLambda", "SeedInventoryLambda",
    "InventoryTable", "OrdersQueue", "OrderAlertsTopic", "OrderErrorNotificationTopic",
    "CriticalAlertsTopic", "OrdersQueueDepthAlarm", "OrderProcessingWorkflowFailureAlarm",
    "OrderProcessingStateMachine", "EcommerceProcessingDashboard", "OrderPlacementLambdaLogGroup",
    "LambdaCodeBucket", "LambdaCodeBucketPolicy", "OrderConfirmationRule",
]
DESIGN_PARAMETERS = ["ApiGatewayName", "ApiGatewayHTTPMethod", "ApiGatewayStageName", "NotificationEmailName"]

# Actions IAM cannot scope to a resource; the only ones allowed on `Resource: "*"`.
UNSCOPABLE_ACTIONS = {
    "dynamodb:ListStreams",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


def load_template() -> dict:
    return cfn_yaml.load(str(TEMPLATE_PATH))


def pascal(binary: str) -> str:
    return "".join(part.capitalize() for part in binary.split("-"))


def logical_id_of_binary(binary: str) -> str:
    """order-placement -> OrderPlacementLambda (the design's naming)."""
    return pascal(binary) + "Lambda"


def table_rows(markdown: str, first_header: str) -> list[list[str]]:
    """The body rows of the markdown table whose first header cell is `first_header`."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells and cells[0] == first_header:
            rows = []
            for body in lines[i + 2:]:
                if not body.lstrip().startswith("|"):
                    break
                rows.append([c.strip() for c in body.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"docs/aws-contract.md: no table headed '{first_header}'")


def ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


class Contract:
    """What docs/aws-contract.md says, parsed from its tables and its state machine section."""

    def __init__(self) -> None:
        text = CONTRACT_PATH.read_text(encoding="utf-8")
        self.text = text
        # | env var | resource (template logical id) | key schema / notes |
        self.resources: dict[str, dict] = {}
        for env, resource, notes in table_rows(text, "env var"):
            (var,) = ticked(env)
            match = re.match(r"\s*([A-Za-z]+)", resource)
            logical = match.group(1) if match and not resource.startswith("(") else None
            if logical == "bus":
                logical = None
            self.resources[var] = {"logical": logical, "resource": resource, "notes": notes}
        # | binary | trigger | env |
        self.binaries: dict[str, dict] = {}
        for binary, trigger, env in table_rows(text, "binary"):
            (path,) = ticked(binary)
            name = path.rsplit("/", 1)[-1]
            self.binaries[name] = {
                "path": path,
                "trigger": trigger,
                "env": {v.strip() for v in env.split(",") if v.strip()},
            }
        section = text[text.index("## State machine"):]
        self.substitutions = {
            s for s in ticked(section) if re.fullmatch(r"[A-Za-z]+(Arn)", s)
        }


TEMPLATE = load_template()
RESOURCES: dict = TEMPLATE["Resources"]
CONTRACT = Contract()


def resources_of_type(kind: str) -> dict:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


def props(logical_id: str) -> dict:
    return RESOURCES[logical_id].get("Properties", {})


def ref_target(value) -> str | None:
    """The logical id a `!Ref X` or `!GetAtt X.Attr` names."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else att.split(".")[0]
    return None


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


class ContractFunctions(unittest.TestCase):
    """Every binary of the contract is one function, wired as the contract says."""

    def test_contract_lists_the_fourteen_binaries(self):
        self.assertEqual(len(CONTRACT.binaries), 14, sorted(CONTRACT.binaries))

    def test_one_function_per_binary_and_no_other(self):
        functions = resources_of_type("AWS::Lambda::Function")
        expected = {logical_id_of_binary(b) for b in CONTRACT.binaries}
        self.assertEqual(set(functions), expected)

    def test_each_function_runs_its_binary_on_provided_al2023_arm64(self):
        for binary in CONTRACT.binaries:
            fid = logical_id_of_binary(binary)
            with self.subTest(binary=binary):
                p = props(fid)
                self.assertEqual(p["Runtime"], "provided.al2023")
                self.assertEqual(p["Architectures"], ["arm64"])
                self.assertEqual(p["Handler"], "bootstrap")
                self.assertEqual(p["Code"]["S3Bucket"], {"Ref": "LambdaCodeBucket"})
                self.assertEqual(p["Code"]["S3Key"], {"Fn::Sub": f"${{CodeVersion}}/{binary}.zip"})
                self.assertEqual(p["FunctionName"], {"Fn::Sub": f"${{AWS::StackName}}-{binary}"})
                # Stream consumers have no caller's trace to join: Active would start a trace per
                # batch (X-Ray bills per trace), so they only pass a sampled caller's header on.
                # The rules' handlers take the stream consumer's events, so the same holds.
                trigger = CONTRACT.binaries[binary]["trigger"]
                passes = "Streams" in trigger or "EventBridge rule" in trigger
                mode = "PassThrough" if passes else "Active"
                self.assertEqual(p["TracingConfig"], {"Mode": mode})
                if mode == "PassThrough":
                    ignored = RESOURCES[fid]["Metadata"]["cfn-lint"]["config"]["ignore_checks"]
                    self.assertIn("WS1000", ignored, "the tracing choice is explained where it is made")
                self.assertIsInstance(p["MemorySize"], int)
                self.assertIsInstance(p["Timeout"], int)

    def test_environment_is_exactly_the_contracts_and_names_its_resources(self):
        for binary, spec in CONTRACT.binaries.items():
            fid = logical_id_of_binary(binary)
            with self.subTest(binary=binary):
                env = props(fid).get("Environment", {}).get("Variables", {})
                self.assertEqual(set(env), spec["env"], f"{fid} environment")
                for var, value in env.items():
                    logical = CONTRACT.resources[var]["logical"]
                    if var == "EVENT_BUS_NAME":
                        self.assertEqual(value, "default", "the contract's bus is the default bus")
                    else:
                        self.assertEqual(value, {"Ref": logical}, f"{fid}.{var}")

    def test_each_function_has_its_own_role_and_log_group(self):
        roles = set()
        for binary in CONTRACT.binaries:
            fid = logical_id_of_binary(binary)
            with self.subTest(binary=binary):
                role = ref_target(props(fid)["Role"])
                self.assertEqual(role, fid + "Role")
                self.assertNotIn(role, roles)
                roles.add(role)
                trust = props(role)["AssumeRolePolicyDocument"]["Statement"]
                self.assertEqual([s["Principal"] for s in trust], [{"Service": "lambda.amazonaws.com"}])
                log_group = props(fid + "LogGroup")
                self.assertEqual(log_group["LogGroupName"], {"Fn::Sub": f"/aws/lambda/${{{fid}}}"})
                self.assertEqual(log_group["RetentionInDays"], 30)
                # The role may write only to that log group (named as the function is).
                statements = role_statements(role)
                log_resources = [s["Resource"] for s in statements if "logs:PutLogEvents" in as_list(s["Action"])]
                self.assertEqual(
                    log_resources,
                    [{"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                      f"/aws/lambda/${{AWS::StackName}}-{binary}:*"}],
                )

    def test_binary_packages_match_the_contract_where_they_exist(self):
        missing = []
        for binary, spec in CONTRACT.binaries.items():
            manifest = ROOT / spec["path"] / "Cargo.toml"
            if not manifest.exists():
                missing.append(spec["path"])
                continue
            with self.subTest(binary=binary):
                name = re.search(r'^\s*name\s*=\s*"([^"]+)"', manifest.read_text(encoding="utf-8"), re.M)
                self.assertIsNotNone(name, f"{manifest}: no package name")
                self.assertEqual(name.group(1), binary, f"{manifest}: package name = binary name")
        if missing:
            print(f"\nnote: not built yet (no Cargo.toml): {', '.join(missing)}", file=sys.stderr)

    def test_deploy_script_builds_and_uploads_exactly_the_contracts_binaries(self):
        text = DEPLOY_PATH.read_text(encoding="utf-8")
        block = re.search(r"^BINARIES=\(\n(.*?)\n\)", text, re.M | re.S)
        self.assertIsNotNone(block, "scripts/deploy.sh: no BINARIES=( ... ) list")
        listed = block.group(1).split()
        self.assertEqual(sorted(listed), sorted(CONTRACT.binaries))
        self.assertEqual(len(listed), len(set(listed)))


def role_statements(role_id: str) -> list[dict]:
    statements = []
    for policy in props(role_id).get("Policies", []):
        statements.extend(as_list(policy["PolicyDocument"]["Statement"]))
    return statements


class LeastPrivilege(unittest.TestCase):
    def test_no_wildcard_actions_and_star_resources_only_where_unscopable(self):
        for role_id in resources_of_type("AWS::IAM::Role"):
            for s in role_statements(role_id):
                if s.get("Effect") != "Allow":
                    continue
                actions = as_list(s["Action"])
                with self.subTest(role=role_id, sid=s.get("Sid")):
                    for action in actions:
                        self.assertNotIn("*", action, f"{role_id}: wildcard action {action}")
                    if s["Resource"] == "*" or "*" in as_list(s["Resource"]):
                        self.assertTrue(
                            set(actions) <= UNSCOPABLE_ACTIONS,
                            f"{role_id}: Resource * for {sorted(set(actions) - UNSCOPABLE_ACTIONS)}",
                        )

    def test_managed_policies_are_only_xray_and_api_gateway_logging(self):
        allowed = {"AWSXRayDaemonWriteAccess", "service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
        for role_id in resources_of_type("AWS::IAM::Role"):
            for arn in props(role_id).get("ManagedPolicyArns", []):
                with self.subTest(role=role_id):
                    self.assertIn(arn["Fn::Sub"].split(":policy/", 1)[1], allowed)

    def test_state_machine_role_invokes_exactly_the_substituted_functions(self):
        for machine in MACHINES:
            with self.subTest(machine=machine):
                subs = props(machine)["DefinitionSubstitutions"]
                functions = {ref_target(v) for v in subs.values() if RESOURCES[ref_target(v)]["Type"] == "AWS::Lambda::Function"}
                self.assertEqual(ref_target(props(machine)["RoleArn"]), machine + "Role")
                statements = role_statements(machine + "Role")
                invoked = {
                    ref_target(r) if isinstance(r, dict) and "Fn::GetAtt" in r else re.match(r"\$\{(\w+)\.Arn\}:\*", r["Fn::Sub"]).group(1)
                    for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])
                    for r in as_list(s["Resource"])
                }
                self.assertEqual(invoked, functions)


class StateMachine(unittest.TestCase):
    """Both state machines: each is its ASL file, substituted with the contract's names."""

    def machines(self):
        for machine, (asl_path, type_parameter) in MACHINES.items():
            with self.subTest(machine=machine):
                yield machine, props(machine), asl_path.read_text(encoding="utf-8"), type_parameter

    def test_the_template_deploys_exactly_the_two_state_machines(self):
        self.assertEqual(set(resources_of_type("AWS::StepFunctions::StateMachine")), set(MACHINES))

    def test_definition_is_the_asl_file(self):
        for machine, sm, asl_text, _ in self.machines():
            self.assertIn("Definition", sm, "use Definition (not DefinitionString or a !Sub string)")
            self.assertNotIn("DefinitionString", sm)
            self.assertEqual(
                json.loads(json.dumps(sm["Definition"])),
                json.loads(asl_text),
                f"template.yaml's {machine} Definition differs from its ASL file: "
                "run python3 scripts/sync-asl.py",
            )

    def test_substitutions_cover_every_placeholder_and_are_the_contracts(self):
        every = set()
        for _, sm, asl_text, _ in self.machines():
            placeholders = set(re.findall(r"\$\{([^}]+)\}", asl_text))
            subs = sm["DefinitionSubstitutions"]
            self.assertEqual(set(subs), placeholders)
            every |= set(subs)
        self.assertEqual(every, CONTRACT.substitutions)

    def test_substitutions_name_real_functions_and_topics(self):
        for _, sm, _, _ in self.machines():
            for name, value in sm["DefinitionSubstitutions"].items():
                target = ref_target(value)
                with self.subTest(name=name):
                    self.assertIn(target, RESOURCES)
                    kind = RESOURCES[target]["Type"]
                    if name.endswith("FunctionArn"):
                        self.assertEqual(kind, "AWS::Lambda::Function")
                        self.assertEqual(value, {"Fn::GetAtt": [target, "Arn"]})
                        self.assertEqual(target, name[: -len("FunctionArn")] + "Lambda")
                    else:
                        self.assertEqual(kind, "AWS::SNS::Topic")
                        self.assertEqual(value, {"Ref": name[: -len("Arn")]})

    def test_the_workflows_publish_nothing_themselves(self):
        # The failure notice follows the OrderFailed event (OrderFailureRule), once per event,
        # whoever appended it; a publish of the workflow's own would be a second email. A
        # refund's email follows its RefundIssued event alike.
        for machine, _, asl_text, _ in self.machines():
            definition = json.loads(asl_text)
            resources = {s.get("Resource") for s in definition["States"].values()} - {None}
            self.assertEqual(resources, {"arn:aws:states:::lambda:invoke"})
            actions = {a for s in role_statements(machine + "Role") for a in as_list(s["Action"])}
            self.assertNotIn("sns:Publish", actions)

    def test_type_logging_and_tracing(self):
        for machine, sm, _, type_parameter in self.machines():
            self.assertEqual(sm["StateMachineType"], {"Ref": type_parameter})
            param = TEMPLATE["Parameters"][type_parameter]
            self.assertEqual(param["Default"], "EXPRESS")
            self.assertEqual(sorted(param["AllowedValues"]), ["EXPRESS", "STANDARD"])
            # ERROR, without execution data: the order's history is its event stream, so logging
            # every state would duplicate it (and cost per state executed).
            self.assertEqual(sm["LoggingConfiguration"]["Level"], "ERROR")
            self.assertIs(sm["LoggingConfiguration"]["IncludeExecutionData"], False)
            (destination,) = sm["LoggingConfiguration"]["Destinations"]
            log_group = ref_target(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
            self.assertEqual(log_group, machine + "LogGroup")
            self.assertEqual(props(log_group)["RetentionInDays"], 30)
            self.assertTrue(sm["TracingConfiguration"]["Enabled"])

    def test_every_state_machine_has_a_failed_executions_alarm(self):
        for machine, _, _, _ in self.machines():
            failed = [
                a for a in map(props, resources_of_type("AWS::CloudWatch::Alarm"))
                if (a.get("Namespace"), a.get("MetricName")) == ("AWS/States", "ExecutionsFailed")
                and a.get("Dimensions") == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
            ]
            self.assertEqual(len(failed), 1, f"{machine}: one ExecutionsFailed alarm")
            self.assertEqual(failed[0]["Threshold"], 0)


class RefundWorkflow(unittest.TestCase):
    """RefundRequested on the bus starts one RefundProcessingStateMachine execution."""

    def test_rule_starts_the_refund_state_machine_with_the_two_ids(self):
        rule = props("RefundRequestedRule")
        self.assertEqual(rule["State"], "ENABLED")
        self.assertEqual(rule["EventBusName"], "default")
        self.assertEqual(rule["EventPattern"], {"source": ["order-pipeline"], "detail-type": ["RefundRequested"]})
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], {"Ref": "RefundProcessingStateMachine"})
        transformer = target["InputTransformer"]
        self.assertEqual(transformer["InputPathsMap"], {"orderId": "$.detail.orderId", "refundId": "$.detail.refundId"})
        # The template as EventBridge fills it with two ids: the input the tasks read.
        filled = transformer["InputTemplate"].replace("<orderId>", "01J").replace("<refundId>", "01J-R1")
        self.assertEqual(json.loads(filled), {"orderId": "01J", "refundId": "01J-R1"})
        definition = json.loads(MACHINES["RefundProcessingStateMachine"][0].read_text(encoding="utf-8"))
        read = {
            v[len("$."):] for s in definition["States"].values()
            for v in s.get("Parameters", {}).get("Payload", {}).values()
            if isinstance(v, str) and v.startswith("$.") and v.count(".") == 1
        }
        self.assertEqual(read - {"error"}, {"orderId", "refundId"}, "the tasks read what the rule gives")

    def test_rule_retries_and_dead_letters_like_the_other_rules(self):
        (target,) = props("RefundRequestedRule")["Targets"]
        self.assertEqual(target["RetryPolicy"], {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600})
        dlq = ref_target(target["DeadLetterConfig"]["Arn"])
        self.assertEqual(dlq, "RefundRequestedDeadLetterQueue")
        self.assertEqual(props(dlq)["KmsMasterKeyId"], {"Ref": "PipelineKey"})
        policies = [
            p for p in map(props, resources_of_type("AWS::SQS::QueuePolicy")) if {"Ref": dlq} in p["Queues"]
        ]
        self.assertTrue(any(
            s.get("Principal") == {"Service": "events.amazonaws.com"} and s["Effect"] == "Allow"
            and s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn") == {"Fn::GetAtt": ["RefundRequestedRule", "Arn"]}
            for p in policies for s in p["PolicyDocument"]["Statement"]
        ), "the rule's DLQ must let EventBridge send to it")
        watched = [
            a for a in map(props, resources_of_type("AWS::CloudWatch::Alarm"))
            if a.get("Dimensions") == [{"Name": "RuleName", "Value": {"Ref": "RefundRequestedRule"}}]
        ]
        self.assertEqual([a["MetricName"] for a in watched], ["FailedInvocations"])

    def test_the_role_eventbridge_assumes_may_only_start_the_refund_executions(self):
        (target,) = props("RefundRequestedRule")["Targets"]
        role = ref_target(target["RoleArn"])
        self.assertEqual(role, "RefundRequestedRuleRole")
        (trust,) = props(role)["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(trust["Condition"], {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})
        self.assertNotIn("ManagedPolicyArns", props(role))
        allowed = [(as_list(s["Action"]), s["Resource"]) for s in role_statements(role) if s["Effect"] == "Allow"]
        self.assertEqual(allowed, [(["states:StartExecution"], {"Ref": "RefundProcessingStateMachine"})])

    def test_the_refund_tasks_append_to_the_log_and_nothing_else(self):
        for fid in ("ProcessRefundLambda", "RefundFailedLambda"):
            with self.subTest(function=fid):
                self.assertEqual(props(fid)["Environment"]["Variables"], {"EVENTS_TABLE": {"Ref": "OrderEventsTable"}})
                granted_actions = {
                    a for s in role_statements(fid + "Role") if s["Effect"] == "Allow" and s.get("Sid") != "OwnLogGroup"
                    for a in as_list(s["Action"])
                }
                self.assertEqual(granted_actions, {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"})


class Design(unittest.TestCase):
    def test_every_logical_id_and_parameter_of_design_section_1(self):
        for logical in DESIGN_LOGICAL_IDS:
            self.assertIn(logical, RESOURCES)
        for param in DESIGN_PARAMETERS:
            self.assertIn(param, TEMPLATE["Parameters"])
        self.assertEqual(TEMPLATE["Parameters"]["ApiGatewayStageName"]["Default"], "prod")
        self.assertEqual(TEMPLATE["Parameters"]["LambdaCodeBucketName"]["Default"], "ecommerce-application-lambda-code")
        self.assertEqual(props("LambdaCodeBucket")["BucketName"], {"Ref": "LambdaCodeBucketName"})

    def test_every_resource_the_contract_names_exists_with_its_type(self):
        kinds = {
            "Table": "AWS::DynamoDB::Table", "Queue": "AWS::SQS::Queue", "Topic": "AWS::SNS::Topic",
            "StateMachine": "AWS::StepFunctions::StateMachine", "Key": "AWS::KMS::Key",
        }
        for var, spec in CONTRACT.resources.items():
            if spec["logical"] is None:
                continue
            with self.subTest(var=var):
                self.assertIn(spec["logical"], RESOURCES)
                kind = next(v for k, v in kinds.items() if spec["logical"].endswith(k))
                self.assertEqual(RESOURCES[spec["logical"]]["Type"], kind)

    def test_tables_have_the_contracts_keys_stream_index_and_ttl(self):
        for var, spec in CONTRACT.resources.items():
            logical, notes = spec["logical"], spec["notes"]
            if logical is None or not logical.endswith("Table"):
                continue
            with self.subTest(table=logical):
                p = props(logical)
                types = {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]}
                keys = {k["KeyType"]: k["AttributeName"] for k in p["KeySchema"]}
                pk = re.search(r"PK `(\w+)` \((\w)\)", notes)
                self.assertEqual(keys["HASH"], pk.group(1))
                self.assertEqual(types[pk.group(1)], pk.group(2))
                sk = re.search(r"SK `(\w+)` \((\w)\)", notes)
                if sk and not re.search(r"GSI[^;]*SK `" + sk.group(1), notes):
                    self.assertEqual(keys["RANGE"], sk.group(1))
                    self.assertEqual(types[sk.group(1)], sk.group(2))
                else:
                    self.assertNotIn("RANGE", keys)
                stream = re.search(r"Streams `(\w+)`", notes)
                if stream:
                    self.assertEqual(p["StreamSpecification"]["StreamViewType"], stream.group(1))
                gsis = re.findall(r"GSI `(\w+)` \(PK `(\w+)`, SK `(\w+)`([^)]*)\)", notes)
                self.assertEqual(
                    sorted(name for name, *_ in gsis),
                    sorted(i["IndexName"] for i in p.get("GlobalSecondaryIndexes", [])),
                    f"{logical}: the contract names every index",
                )
                for name, hash_key, range_key, rest in gsis:
                    (index,) = [i for i in p["GlobalSecondaryIndexes"] if i["IndexName"] == name]
                    ikeys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
                    self.assertEqual((ikeys["HASH"], ikeys["RANGE"]), (hash_key, range_key))
                    projection = "ALL" if "projection ALL" in rest else "KEYS_ONLY" if "keys only" in rest else None
                    self.assertEqual(index["Projection"]["ProjectionType"], projection, f"{logical}.{name}")
                    for key in (hash_key, range_key):
                        self.assertIn(f"`{key}` (", notes, f"{logical}: the contract types the index key {key}")
                ttl = re.search(r"TTL attribute `(\w+)`", notes)
                if ttl:
                    self.assertEqual(p["TimeToLiveSpecification"], {"AttributeName": ttl.group(1), "Enabled": True})

    def test_every_table_has_pitr_and_encryption(self):
        # Every table but the customer keys: PITR would keep a forgotten customer's wrapped key
        # restorable (crypto-shredding), so that table has none, with the reason where it is.
        for logical in resources_of_type("AWS::DynamoDB::Table"):
            with self.subTest(table=logical):
                p = props(logical)
                pitr = p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
                skips = {s["id"] for s in RESOURCES[logical].get("Metadata", {}).get("checkov", {}).get("skip", [])}
                if logical == "CustomerKeysTable":
                    self.assertIs(pitr, False)
                    self.assertIn("CKV_AWS_28", skips)
                else:
                    self.assertIs(pitr, True)
                    self.assertNotIn("CKV_AWS_28", skips)
                self.assertTrue(p["SSESpecification"]["SSEEnabled"])
                self.assertEqual(p["BillingMode"], "PAY_PER_REQUEST")

    def test_orders_queue_dlq_and_visibility_six_times_the_consumer_timeout(self):
        q = props("OrdersQueue")
        dlq = re.search(r"DLQ (\w+), maxReceiveCount (\d+)", CONTRACT.resources["ORDERS_QUEUE_URL"]["resource"])
        self.assertEqual(q["RedrivePolicy"]["deadLetterTargetArn"], {"Fn::GetAtt": [dlq.group(1), "Arn"]})
        self.assertEqual(q["RedrivePolicy"]["maxReceiveCount"], int(dlq.group(2)))
        self.assertEqual(q["VisibilityTimeout"], 6 * props("StartOrderProcessingLambda")["Timeout"])

    def test_queue_mapping_reports_partial_batch_failures(self):
        (mapping,) = [
            p for p in map(props, resources_of_type("AWS::Lambda::EventSourceMapping"))
            if p["EventSourceArn"] == {"Fn::GetAtt": ["OrdersQueue", "Arn"]}
        ]
        self.assertEqual(mapping["FunctionName"], {"Ref": "StartOrderProcessingLambda"})
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])

    def test_stream_mappings_never_block_a_shard(self):
        stream_consumers = {
            logical_id_of_binary(b) for b, spec in CONTRACT.binaries.items() if "Streams" in spec["trigger"]
        }
        self.assertEqual(len(stream_consumers), 1, "the stream's one reader")
        mappings = {
            ref_target(p["FunctionName"]): p
            for p in map(props, resources_of_type("AWS::Lambda::EventSourceMapping"))
            if p["EventSourceArn"] == {"Fn::GetAtt": ["OrderEventsTable", "StreamArn"]}
        }
        self.assertEqual(set(mappings), stream_consumers)
        for fid, m in mappings.items():
            with self.subTest(function=fid):
                self.assertEqual(m["FunctionResponseTypes"], ["ReportBatchItemFailures"])
                self.assertIs(m["BisectBatchOnFunctionError"], True)
                self.assertTrue(0 <= m["MaximumRetryAttempts"] <= 100)
                self.assertTrue(60 <= m["MaximumRecordAgeInSeconds"] <= 86400)
                self.assertEqual(m["StartingPosition"], "TRIM_HORIZON")
                dest = ref_target(m["DestinationConfig"]["OnFailure"]["Destination"])
                self.assertEqual(RESOURCES[dest]["Type"], "AWS::SQS::Queue")
                sends = [s for s in role_statements(fid + "Role") if "sqs:SendMessage" in as_list(s["Action"])]
                self.assertEqual([ref_target(s["Resource"]) for s in sends], [dest])

    def test_stream_mappings_deliver_only_the_records_their_function_uses(self):
        mappings = {
            ref_target(p["FunctionName"]): p
            for p in map(props, resources_of_type("AWS::Lambda::EventSourceMapping"))
            if p["EventSourceArn"] == {"Fn::GetAtt": ["OrderEventsTable", "StreamArn"]}
        }

        def pattern(fid):
            (f,) = mappings[fid]["FilterCriteria"]["Filters"]
            return json.loads(f["Pattern"])

        # The stream id prefixes are the domain's (`order#<ULID>`, `product#<ProductID>`).
        values = (ROOT / "shared" / "domain" / "src" / "values.rs").read_text()
        for prefix in ("order#", "product#"):
            self.assertRegex(values, rf'SharedStr::joined\(\s*"{prefix}"')
        # One reader (AWS advises at most two per shard): the event projector keeps both views
        # (order# and product# streams) and forwards the terminal events, so its filter keeps
        # every INSERT, and nothing else reads the stream.
        self.assertEqual(set(mappings), {"EventProjectorLambda"})
        self.assertEqual(pattern("EventProjectorLambda"), {"eventName": ["INSERT"]})
        # The status view is what clients poll: no batching window.
        self.assertNotIn("MaximumBatchingWindowInSeconds", mappings["EventProjectorLambda"])

    def test_sweep_index_is_the_adapters_sparse_keys_only_index(self):
        code = (ROOT / "shared" / "aws" / "src" / "read_models" / "sweep.rs").read_text()

        def const(name):
            return re.search(rf'pub const {name}: &str = "(\w+)";', code).group(1)

        (index,) = [i for i in props("OrderStatusTable")["GlobalSecondaryIndexes"] if i["IndexName"] == const("SWEEP_INDEX")]
        keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        self.assertEqual((keys["HASH"], keys["RANGE"]), (const("SWEEP_SHARD"), const("SWEEP_SINCE")))
        # The sweeper queries the index and nothing else of the table but its candidates' rows.
        statements = role_statements("OrderSweeperLambdaRole")
        queried = [s["Resource"] for s in statements if s["Action"] == "dynamodb:Query"]
        self.assertIn({"Fn::Sub": "${OrderStatusTable.Arn}/index/" + const("SWEEP_INDEX")}, queried)
        self.assertEqual(index["Projection"], {"ProjectionType": "KEYS_ONLY"})
        # Sparse: the index keys are not attributes every row has.
        self.assertFalse({"status", "updatedAt"} & set(keys.values()))

    def test_rules_route_order_events_with_dlq_and_retries(self):
        rules = {
            "OrderConfirmationRule": (["OrderCompleted"], "OrderSuccessHandlerLambda", "OrderConfirmationDeadLetterQueue"),
            "OrderFailureRule": (["OrderFailed"], "OrderFailureHandlerLambda", "OrderFailureDeadLetterQueue"),
            "OrderUpdateRule": (
                ["OrderPlaced", "OrderCancelled", "OrderShipped", "RefundIssued"],
                "OrderUpdateHandlerLambda",
                "OrderUpdateDeadLetterQueue",
            ),
        }
        self.assertEqual(set(resources_of_type("AWS::Events::Rule")) & set(rules), set(rules))
        for name, (detail_types, function, queue) in rules.items():
            with self.subTest(rule=name):
                rule = props(name)
                self.assertEqual(rule["EventPattern"], {"source": ["order-pipeline"], "detail-type": detail_types})
                (target,) = rule["Targets"]
                self.assertEqual(target["Arn"], {"Fn::GetAtt": [function, "Arn"]})
                self.assertIn("MaximumRetryAttempts", target["RetryPolicy"])
                self.assertIn("MaximumEventAgeInSeconds", target["RetryPolicy"])
                dlq = ref_target(target["DeadLetterConfig"]["Arn"])
                self.assertEqual(dlq, queue)
                self.assertEqual(RESOURCES[dlq]["Type"], "AWS::SQS::Queue")
                policies = [
                    p for p in map(props, resources_of_type("AWS::SQS::QueuePolicy"))
                    if {"Ref": dlq} in p["Queues"]
                ]
                self.assertTrue(any(
                    s.get("Principal") == {"Service": "events.amazonaws.com"} and s["Effect"] == "Allow"
                    and s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn") == {"Fn::GetAtt": [name, "Arn"]}
                    for p in policies for s in p["PolicyDocument"]["Statement"]
                ), "the rule's DLQ must let EventBridge send to it")
                # The handler's asynchronous failures land in the same queue.
                (config,) = [
                    p for p in map(props, resources_of_type("AWS::Lambda::EventInvokeConfig"))
                    if p["FunctionName"] == {"Ref": function}
                ]
                self.assertEqual(ref_target(config["DestinationConfig"]["OnFailure"]["Destination"]), queue)
        permission = [
            p for p in map(props, resources_of_type("AWS::Lambda::Permission"))
            if p["Principal"] == "events.amazonaws.com" and ref_target(p["SourceArn"]) in rules
        ]
        self.assertEqual(
            sorted(ref_target(p["SourceArn"]) for p in permission), sorted(rules),
        )

    def test_sweeper_runs_every_minute_without_retries(self):
        rule = props("OrderSweeperSchedule")
        self.assertEqual(rule["ScheduleExpression"], "rate(1 minute)")
        self.assertEqual(rule["State"], "ENABLED")
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], {"Fn::GetAtt": ["OrderSweeperLambda", "Arn"]})
        self.assertEqual(target["RetryPolicy"]["MaximumRetryAttempts"], 0)
        invoke = props("OrderSweeperInvokeConfig")
        self.assertEqual((invoke["FunctionName"], invoke["MaximumRetryAttempts"]), ({"Ref": "OrderSweeperLambda"}, 0))
        permissions = [
            p for p in map(props, resources_of_type("AWS::Lambda::Permission"))
            if p["FunctionName"] == {"Ref": "OrderSweeperLambda"}
        ]
        self.assertEqual(
            [(p["Principal"], p["SourceArn"]) for p in permissions],
            [("events.amazonaws.com", {"Fn::GetAtt": ["OrderSweeperSchedule", "Arn"]})],
        )

    def test_forwarder_may_put_events_on_the_contracts_bus(self):
        puts = [s for s in role_statements("EventProjectorLambdaRole") if "events:PutEvents" in as_list(s["Action"])]
        self.assertEqual(len(puts), 1)
        self.assertIn("event-bus/default", puts[0]["Resource"]["Fn::Sub"])
        self.assertEqual(puts[0]["Condition"], {"StringEquals": {"events:source": "order-pipeline"}})

    def test_dedup_records_are_written_whole_never_updated(self):
        # shared/aws/src/dedup.rs: the claim, the take-over and the SENT mark are conditional
        # PutItems, the release a conditional DeleteItem, a lost claim's read a GetItem.
        dedup = {"Fn::GetAtt": ["NotificationDedupTable", "Arn"]}
        roles = [r for r in resources_of_type("AWS::IAM::Role") if granted(r, dedup)[0]]
        self.assertEqual(len(roles), 3, roles)
        for role in roles:
            with self.subTest(role=role):
                self.assertEqual(
                    granted(role, dedup)[0], {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
                )

    def test_topics_are_encrypted_have_a_policy_and_an_email_subscription(self):
        topics = set(resources_of_type("AWS::SNS::Topic"))
        self.assertEqual(topics, {"OrderAlertsTopic", "OrderErrorNotificationTopic", "CriticalAlertsTopic"})
        with_policy = {ref_target(t) for p in map(props, resources_of_type("AWS::SNS::TopicPolicy")) for t in p["Topics"]}
        subscribed = {
            ref_target(p["TopicArn"]): p for p in map(props, resources_of_type("AWS::SNS::Subscription"))
        }
        for topic in topics:
            with self.subTest(topic=topic):
                self.assertIn("KmsMasterKeyId", props(topic))
                self.assertIn(topic, with_policy)
                self.assertEqual(subscribed[topic]["Protocol"], "email")
                self.assertEqual(subscribed[topic]["Endpoint"], {"Ref": "NotificationEmailName"})

    def test_alarms_go_to_critical_alerts(self):
        alarms = resources_of_type("AWS::CloudWatch::Alarm")
        for logical, alarm in alarms.items():
            with self.subTest(alarm=logical):
                self.assertEqual(alarm["Properties"]["AlarmActions"], [{"Ref": "CriticalAlertsTopic"}])
        depth = props("OrdersQueueDepthAlarm")
        self.assertEqual(
            (depth["MetricName"], depth["Threshold"], depth["ComparisonOperator"]),
            ("ApproximateNumberOfMessagesVisible", 10, "GreaterThanThreshold"),
        )
        self.assertEqual(depth["Dimensions"], [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["OrdersQueue", "QueueName"]}}])
        failed = props("OrderProcessingWorkflowFailureAlarm")
        self.assertEqual((failed["Namespace"], failed["MetricName"]), ("AWS/States", "ExecutionsFailed"))
        metrics = {(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms.values()}
        self.assertIn(("AWS/Events", "FailedInvocations"), metrics)
        self.assertIn(("AWS/Lambda", "Errors"), metrics)

    def test_business_alarms_on_the_pipelines_own_metrics(self):
        # The three alarms on namespace OrderPipeline (the functions' EMF lines); the local host's
        # alarms evaluate the same definitions, so these numbers are a contract.
        rate = props("OrderFailureRateAlarm")
        by_id = {m["Id"]: m for m in rate["Metrics"]}
        self.assertEqual([m["Id"] for m in rate["Metrics"] if m.get("ReturnData")], ["rate"])
        self.assertEqual(
            by_id["rate"]["Expression"], "100 * FILL(failed, 0) / (FILL(completed, 0) + FILL(failed, 0))"
        )
        for mid, name in [("failed", "OrdersFailed"), ("completed", "OrdersCompleted")]:
            stat = by_id[mid]["MetricStat"]
            self.assertEqual(stat["Metric"], {"Namespace": "OrderPipeline", "MetricName": name})
            self.assertEqual((stat["Period"], stat["Stat"]), (300, "Sum"))
        self.assertEqual(
            (rate["EvaluationPeriods"], rate["Threshold"], rate["ComparisonOperator"]),
            (1, 25, "GreaterThanThreshold"),
        )
        p99 = props("OrderLatencyP99Alarm")
        self.assertEqual(
            (p99["Namespace"], p99["MetricName"], p99["ExtendedStatistic"], p99["Period"],
             p99["EvaluationPeriods"], p99["DatapointsToAlarm"], p99["Threshold"], p99["ComparisonOperator"]),
            ("OrderPipeline", "OrderLatency", "p99", 60, 5, 3, 30, "GreaterThanThreshold"),
        )
        lag = props("ProjectionLagAlarm")
        self.assertEqual(
            (lag["Namespace"], lag["MetricName"], lag["Statistic"], lag["Period"],
             lag["EvaluationPeriods"], lag["Threshold"], lag["ComparisonOperator"]),
            ("OrderPipeline", "ProjectionLag", "Maximum", 60, 3, 60, "GreaterThanThreshold"),
        )
        for alarm in (rate, p99, lag):
            self.assertEqual(alarm["TreatMissingData"], "notBreaching")
            self.assertNotIn("Dimensions", alarm, "the EMF lines' dimensionless totals")

    def test_every_dead_letter_queue_has_a_not_empty_alarm(self):
        dlqs = {q for q in resources_of_type("AWS::SQS::Queue") if "DeadLetterQueue" in q}
        self.assertGreaterEqual(len(dlqs), 1)
        watched = {
            ref_target(d["Value"]) for a in map(props, resources_of_type("AWS::CloudWatch::Alarm"))
            if a.get("MetricName") == "ApproximateNumberOfMessagesVisible" and a["Threshold"] == 0
            for d in a["Dimensions"]
        }
        self.assertEqual(dlqs - watched, set())

    def test_dashboard_is_json_with_the_functions_queue_state_machine_and_alarms(self):
        body = props("EcommerceProcessingDashboard")["DashboardBody"]["Fn::Sub"]
        names = set(re.findall(r"\$\{([^}]+)\}", body))
        rendered = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
        self.assertTrue(rendered["widgets"])
        for fid in resources_of_type("AWS::Lambda::Function"):
            if fid != "SeedInventoryLambda":
                self.assertIn(fid, names)
        self.assertIn("OrdersQueue.QueueName", names)
        for machine in MACHINES:
            self.assertIn(machine, names)
        alarm_widget = [w for w in rendered["widgets"] if w["type"] == "alarm"]
        self.assertEqual(len(alarm_widget), 1)
        # Alarms are named <stack>-<logical id without "Alarm">, and the alarm widget lists them
        # all by ARN (built from the names, so the dashboard does not depend on the alarms).
        alarm_arns = set(alarm_widget[0]["properties"]["alarms"])
        for logical, alarm in resources_of_type("AWS::CloudWatch::Alarm").items():
            short = logical[: -len("Alarm")]
            self.assertEqual(alarm["Properties"]["AlarmName"], {"Fn::Sub": f"${{AWS::StackName}}-{short}"})
            self.assertIn(
                f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:${{AWS::StackName}}-{short}",
                body,
            )
        self.assertEqual(len(alarm_arns), len(resources_of_type("AWS::CloudWatch::Alarm")))

    def test_code_bucket_is_private_versioned_aes256_and_tls_only(self):
        b = props("LambdaCodeBucket")
        self.assertEqual(
            b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "AES256",
        )
        self.assertEqual(b["VersioningConfiguration"]["Status"], "Enabled")
        self.assertTrue(all(b["PublicAccessBlockConfiguration"].values()))
        self.assertEqual(len(b["PublicAccessBlockConfiguration"]), 4)
        statements = props("LambdaCodeBucketPolicy")["PolicyDocument"]["Statement"]
        self.assertTrue(any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        ))
        self.assertTrue(any(
            s["Effect"] == "Allow" and s["Principal"] == {"Service": "lambda.amazonaws.com"}
            and "s3:GetObject" in as_list(s["Action"]) for s in statements
        ))

    def test_seed_inventory_custom_resource(self):
        seed = RESOURCES["SeedInventory"]
        self.assertTrue(seed["Type"].startswith("Custom::"))
        self.assertEqual(seed["Properties"]["ServiceToken"], {"Fn::GetAtt": ["SeedInventoryLambda", "Arn"]})

    def test_seed_custom_resource_times_out_in_minutes(self):
        # Without ServiceTimeout a custom resource that never answers stalls the stack an hour.
        self.assertEqual(props("SeedInventory")["ServiceTimeout"], 300)

    def test_account_cloudwatch_role_only_when_asked(self):
        self.assertEqual(TEMPLATE["Parameters"]["SetApiGatewayAccountRole"]["Default"], "false")
        self.assertEqual(
            TEMPLATE["Conditions"]["SetAccountRole"], {"Fn::Equals": [{"Ref": "SetApiGatewayAccountRole"}, "true"]}
        )
        for logical in ("ApiGatewayAccount", "ApiGatewayCloudWatchRole"):
            self.assertEqual(RESOURCES[logical]["Condition"], "SetAccountRole")
        # The stage waits for the account setting when the stack makes it, through the handle.
        self.assertEqual(as_list(RESOURCES["ApiGatewayStage"]["DependsOn"]), ["ApiGatewayAccountSetting"])
        handle = RESOURCES["ApiGatewayAccountSetting"]
        self.assertEqual(handle["Type"], "AWS::CloudFormation::WaitConditionHandle")
        self.assertEqual(
            handle["Metadata"]["AccountCloudWatchRole"]["Fn::If"][:2], ["SetAccountRole", {"Ref": "ApiGatewayAccount"}]
        )

    def test_deployment_description_follows_the_api_hash(self):
        sys.path.insert(0, str(ROOT / "scripts"))
        import api_hash  # noqa: PLC0415

        self.assertIn("ApiDefinitionHash", TEMPLATE["Parameters"])
        description = props("ApiGatewayDeployment")["Description"]
        self.assertIn("Fn::Sub", description)
        self.assertIn("${ApiDefinitionHash}", description["Fn::Sub"])
        # Parameters the API resources read are not in the hash: the Description names each.
        raw = api_hash.load(TEMPLATE_PATH.read_text(encoding="utf-8"))
        text = json.dumps(api_hash.api_resources(raw))
        read = set(re.findall(r'\{"Ref": "([A-Za-z0-9]+)"\}', text)) | set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
        for param in read & set(TEMPLATE["Parameters"]):
            with self.subTest(parameter=param):
                self.assertIn("${%s}" % param, description["Fn::Sub"])
        # Every snapshotted resource type of the template is hashed (a new kind must be added).
        api_types = {r["Type"] for r in RESOURCES.values() if r["Type"].startswith("AWS::ApiGateway::")}
        self.assertEqual(api_types - api_hash.SNAPSHOT_TYPES, {
            "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::ApiGateway::Account",
        })
        # deploy.sh computes it with the script and passes it.
        deploy = DEPLOY_PATH.read_text(encoding="utf-8")
        self.assertIn("scripts/api_hash.py template.yaml", deploy)
        self.assertIn('"ApiDefinitionHash=$API_HASH"', deploy)

    def test_api_hash_changes_with_the_api_and_only_with_it(self):
        sys.path.insert(0, str(ROOT / "scripts"))
        import copy
        import api_hash  # noqa: PLC0415

        raw = api_hash.load(TEMPLATE_PATH.read_text(encoding="utf-8"))
        base = api_hash.api_hash(raw)
        self.assertRegex(base, r"^[0-9a-f]{16}$")
        self.assertEqual(base, api_hash.api_hash(copy.deepcopy(raw)), "stable across runs")
        changes = {
            "a method": ("GetOrderMethod", lambda p: p.update(AuthorizationType="NONE")),
            "a model": ("OrderRequestModel", lambda p: p.update(Description="changed")),
            "a validator": ("ApiGatewayRequestValidator", lambda p: p.update(ValidateRequestParameters=False)),
            "a gateway response": ("UnauthorizedResponse", lambda p: p.update(StatusCode="418")),
        }
        for what, (logical, change) in changes.items():
            with self.subTest(changed=what):
                t = copy.deepcopy(raw)
                change(t["Resources"][logical]["Properties"])
                self.assertNotEqual(api_hash.api_hash(t), base)
        # A change outside the API (a table, the stage's settings) keeps the deployment.
        t = copy.deepcopy(raw)
        t["Resources"]["ApiGatewayStage"]["Properties"]["Description"] = "changed"
        t["Resources"]["InventoryTable"]["Properties"]["TableClass"] = "STANDARD_INFREQUENT_ACCESS"
        self.assertEqual(api_hash.api_hash(t), base)
        # The script deploy.sh runs prints the same hash.
        out = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "api_hash.py"), str(TEMPLATE_PATH)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        self.assertEqual(out, base)

    def test_optional_waf_behind_a_parameter(self):
        self.assertEqual(TEMPLATE["Parameters"]["EnableWaf"]["Default"], "false")
        for logical in list(resources_of_type("AWS::WAFv2::WebACL")) + list(resources_of_type("AWS::WAFv2::WebACLAssociation")):
            self.assertEqual(RESOURCES[logical]["Condition"], "WafEnabled")
        self.assertTrue(resources_of_type("AWS::WAFv2::WebACLAssociation"))

    def test_api_routes_proxy_to_order_placement(self):
        paths = {}
        for logical, r in resources_of_type("AWS::ApiGateway::Resource").items():
            paths[logical] = r["Properties"]
        def path_of(resource_id):
            if resource_id == {"Fn::GetAtt": ["ApiGateway", "RootResourceId"]}:
                return ""
            p = paths[ref_target(resource_id)]
            return path_of(p["ParentId"]) + "/" + p["PathPart"]
        routes = set()
        for logical, m in map(lambda kv: (kv[0], kv[1]["Properties"]), resources_of_type("AWS::ApiGateway::Method").items()):
            integration = m["Integration"]
            self.assertEqual(integration["Type"], "AWS_PROXY")
            self.assertIn("${OrderPlacementLambda.Arn}", integration["Uri"]["Fn::Sub"])
            method = m["HttpMethod"] if isinstance(m["HttpMethod"], str) else "ROOT"
            routes.add(f"{method} {path_of(m['ResourceId']) or '/'}")
        self.assertEqual(routes, {
            "ROOT /", "POST /orders", "GET /orders", "GET /orders/{id}", "GET /orders/{id}/events",
            "POST /orders/{id}/cancel", "POST /orders/{id}/shipment", "POST /orders/{id}/refunds",
            "DELETE /customers/{customerId}", "GET /inventory/{productId}", "GET /health",
        })
        stage = props("ApiGatewayStage")
        self.assertTrue(stage["TracingEnabled"])
        # The API decides each order's trace: 5 % of requests, no reservoir (the default rule's
        # first request each second would be nearly every request at a million orders a month).
        (rule,) = [r["SamplingRule"] for r in map(props, resources_of_type("AWS::XRay::SamplingRule"))]
        self.assertEqual((rule["ReservoirSize"], rule["FixedRate"]), (0, 0.05))
        self.assertEqual(rule["ServiceName"], {"Fn::Sub": "${ApiGatewayName}/${ApiGatewayStageName}"})
        self.assertLess(rule["Priority"], 10000, "before the default rule")
        self.assertIn("DestinationArn", stage["AccessLogSetting"])
        (settings,) = stage["MethodSettings"]
        self.assertIn("ThrottlingRateLimit", settings)
        self.assertIn("ThrottlingBurstLimit", settings)
        self.assertTrue(props("PlaceOrderMethod")["RequestModels"])


def api_path(resource_id) -> str:
    """The path of an API Gateway resource id (`!GetAtt ApiGateway.RootResourceId` is "/")."""
    if resource_id == {"Fn::GetAtt": ["ApiGateway", "RootResourceId"]}:
        return ""
    p = props(ref_target(resource_id))
    return api_path(p["ParentId"]) + "/" + p["PathPart"]


def api_methods() -> dict[str, tuple[str, dict]]:
    """Logical id -> ("METHOD /path", properties) of every API method (ROOT for the root's)."""
    out = {}
    for logical in resources_of_type("AWS::ApiGateway::Method"):
        m = props(logical)
        method = m["HttpMethod"] if isinstance(m["HttpMethod"], str) else "ROOT"
        out[logical] = (f"{method} {api_path(m['ResourceId']) or '/'}", m)
    return out


# The only routes anyone may call without a token (issue 12: the stock display and the health
# check). Every other route, a new one included, must carry the Cognito authorizer.
PUBLIC_ROUTES = {"GET /inventory/{productId}", "GET /health"}

# Who may use the customers' data keys, and how (docs/aws-contract.md, "Personal data keys").
KEY_TABLE_ACTIONS = {
    "OrderPlacementLambdaRole": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"},
    "ProcessPaymentLambdaRole": {"dynamodb:GetItem"},
    "OrderSuccessHandlerLambdaRole": {"dynamodb:GetItem"},
    "OrderUpdateHandlerLambdaRole": {"dynamodb:GetItem"},
}
KEY_ACTIONS = {
    "OrderPlacementLambdaRole": {"kms:GenerateDataKey", "kms:Decrypt"},
    "ProcessPaymentLambdaRole": {"kms:Decrypt"},
    "OrderSuccessHandlerLambdaRole": {"kms:Decrypt"},
    "OrderUpdateHandlerLambdaRole": {"kms:Decrypt"},
}


def granted(role_id: str, resource: dict) -> tuple[set[str], list[dict]]:
    """The actions `role_id` is allowed on `resource` (a `!GetAtt X.Arn`), and those statements."""
    actions, statements = set(), []
    for s in role_statements(role_id):
        if s.get("Effect") == "Allow" and resource in as_list(s["Resource"]):
            actions |= set(as_list(s["Action"]))
            statements.append(s)
    return actions, statements


class SignIn(unittest.TestCase):
    """Issue 12: a Cognito user pool, and its ID token on every order route."""

    def test_every_route_but_the_public_ones_has_the_cognito_authorizer(self):
        methods = api_methods()
        routes = {route for route, _ in methods.values()}
        self.assertLessEqual(PUBLIC_ROUTES, routes)
        self.assertTrue({"POST /orders", "GET /orders", "GET /orders/{id}", "GET /orders/{id}/events",
                         "POST /orders/{id}/cancel", "POST /orders/{id}/shipment",
                         "POST /orders/{id}/refunds", "DELETE /customers/{customerId}", "ROOT /"} <= routes)
        for logical, (route, m) in methods.items():
            with self.subTest(route=route, method=logical):
                if route in PUBLIC_ROUTES:
                    self.assertEqual(m["AuthorizationType"], "NONE")
                    self.assertNotIn("AuthorizerId", m)
                else:
                    self.assertEqual(m["AuthorizationType"], "COGNITO_USER_POOLS")
                    self.assertEqual(m["AuthorizerId"], {"Ref": "OrdersCognitoAuthorizer"})
                    # No scopes: the authorizer takes the ID token (whose claims carry the email
                    # and the groups), as docs/aws-contract.md tells clients.
                    self.assertNotIn("AuthorizationScopes", m)
                    self.assertNotIn("CKV_AWS_59", str(RESOURCES[logical].get("Metadata", {})))

    def test_new_routes_take_their_parameters(self):
        by_route = {route: m for route, m in api_methods().values()}
        listing = by_route["GET /orders"]["RequestParameters"]
        self.assertEqual(listing, {
            "method.request.querystring.limit": False,
            "method.request.querystring.cursor": False,
            "method.request.querystring.customerId": False,
        })
        self.assertEqual(by_route["DELETE /customers/{customerId}"]["RequestParameters"],
                         {"method.request.path.customerId": True})
        for after in ("cancel", "shipment", "refunds"):
            self.assertEqual(by_route[f"POST /orders/{{id}}/{after}"]["RequestParameters"],
                             {"method.request.path.id": True})

    def test_after_sale_bodies_are_bounded_at_the_edge_no_tighter_than_the_router(self):
        # The cancellation's body is optional (an empty body is a cancellation without a
        # reason), so no model: a model would refuse the empty body.
        by_route = {route: m for route, m in api_methods().values()}
        self.assertNotIn("RequestModels", by_route["POST /orders/{id}/cancel"])
        shipment = props(ref_target(by_route["POST /orders/{id}/shipment"]["RequestModels"]["application/json"]))["Schema"]
        self.assertEqual(shipment["required"], ["carrier", "trackingId"])
        self.assertFalse(shipment["additionalProperties"])
        self.assertEqual([shipment["properties"][f]["maxLength"] for f in ("carrier", "trackingId")], [64, 64])
        refund = props(ref_target(by_route["POST /orders/{id}/refunds"]["RequestModels"]["application/json"]))["Schema"]
        self.assertEqual(refund["required"], ["items", "restock"])
        self.assertEqual((refund["properties"]["items"]["minItems"], refund["properties"]["items"]["maxItems"]), (1, 50))
        self.assertEqual(refund["properties"]["reason"]["maxLength"], 500)
        line = refund["properties"]["items"]["items"]["properties"]["quantity"]
        self.assertEqual((line["minimum"], line["maximum"]), (1, 1000))

    def test_authorizer_is_the_pools(self):
        self.assertEqual(list(resources_of_type("AWS::ApiGateway::Authorizer")), ["OrdersCognitoAuthorizer"])
        a = props("OrdersCognitoAuthorizer")
        self.assertEqual(a["Type"], "COGNITO_USER_POOLS")
        self.assertEqual(a["ProviderARNs"], [{"Fn::GetAtt": ["OrdersUserPool", "Arn"]}])
        self.assertEqual(a["IdentitySource"], "method.request.header.Authorization")
        self.assertEqual(a["RestApiId"], {"Ref": "ApiGateway"})

    def test_deployment_waits_for_every_method_and_gateway_response(self):
        depends = set(as_list(RESOURCES["ApiGatewayDeployment"]["DependsOn"]))
        wanted = set(resources_of_type("AWS::ApiGateway::Method")) | set(resources_of_type("AWS::ApiGateway::GatewayResponse"))
        self.assertEqual(wanted - depends, set())

    def test_refusals_are_json_errors_with_a_bearer_challenge(self):
        responses = {props(r)["ResponseType"]: props(r) for r in resources_of_type("AWS::ApiGateway::GatewayResponse")}
        for kind, status, code in (("UNAUTHORIZED", "401", "UNAUTHORIZED"), ("ACCESS_DENIED", "403", "FORBIDDEN")):
            with self.subTest(response=kind):
                r = responses[kind]
                self.assertEqual(r["StatusCode"], status)
                self.assertEqual(r["ResponseParameters"], {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"})
                body = r["ResponseTemplates"]["application/json"]
                rendered = json.loads(body.replace("$context.error.messageString", '"Unauthorized"'))
                self.assertEqual(rendered, {"error": {"code": code, "message": "Unauthorized"}})
        # An unknown route stays 404 (a Cognito authorizer's missing token is UNAUTHORIZED, not
        # MISSING_AUTHENTICATION_TOKEN, so the two never mix).
        self.assertEqual(responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"], "404")

    def test_user_pool_signs_in_by_email_with_a_sane_password_policy(self):
        pool = RESOURCES["OrdersUserPool"]
        self.assertEqual(pool["Type"], "AWS::Cognito::UserPool")
        p = pool["Properties"]
        self.assertIn("email", p.get("UsernameAttributes", []) + p.get("AliasAttributes", []))
        self.assertEqual(p["AutoVerifiedAttributes"], ["email"])
        policy = p["Policies"]["PasswordPolicy"]
        self.assertGreaterEqual(policy["MinimumLength"], 12)
        self.assertLessEqual(policy["TemporaryPasswordValidityDays"], 7)
        self.assertIn(p.get("MfaConfiguration", "OFF"), {"OFF", "OPTIONAL"}, "MFA must not be required")
        # Kept and protected like the event log: its `sub`s are the log's customer ids.
        self.assertEqual(p["DeletionProtection"], "ACTIVE")
        self.assertEqual((pool["DeletionPolicy"], pool["UpdateReplacePolicy"]), ("Retain", "Retain"))
        self.assertEqual(RESOURCES["OrderEventsTable"]["DeletionPolicy"], "Retain")

    def test_app_client_is_public_with_the_sign_in_flows(self):
        c = props("OrdersUserPoolClient")
        self.assertEqual(c["UserPoolId"], {"Ref": "OrdersUserPool"})
        self.assertIs(c["GenerateSecret"], False)
        self.assertEqual(
            set(c["ExplicitAuthFlows"]),
            {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"},
        )
        self.assertEqual(c["PreventUserExistenceErrors"], "ENABLED")
        units = c["TokenValidityUnits"]
        self.assertEqual((units["IdToken"], units["AccessToken"], units["RefreshToken"]), ("minutes", "minutes", "days"))
        self.assertTrue(5 <= c["IdTokenValidity"] <= 60 and 5 <= c["AccessTokenValidity"] <= 60)
        self.assertTrue(1 <= c["RefreshTokenValidity"] <= 30)

    def test_admin_group(self):
        g = props("OrdersAdminGroup")
        self.assertEqual(RESOURCES["OrdersAdminGroup"]["Type"], "AWS::Cognito::UserPoolGroup")
        self.assertEqual((g["GroupName"], g["UserPoolId"]), ("admin", {"Ref": "OrdersUserPool"}))

    def test_outputs_name_the_pool_client_and_issuer(self):
        outputs = TEMPLATE["Outputs"]
        self.assertEqual(outputs["UserPoolId"]["Value"], {"Ref": "OrdersUserPool"})
        self.assertEqual(outputs["UserPoolClientId"]["Value"], {"Ref": "OrdersUserPoolClient"})
        self.assertEqual(
            outputs["UserPoolIssuer"]["Value"],
            {"Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${OrdersUserPool}"},
        )
        for output in ("UserPoolId", "UserPoolClientId", "UserPoolIssuer"):
            self.assertIn(output, CONTRACT.text, f"docs/aws-contract.md tells how to use {output}")

    def test_body_customer_id_is_optional_at_the_edge(self):
        schema = props("OrderRequestModel")["Schema"]
        self.assertNotIn("customerId", schema["required"])
        self.assertIn("customerId", schema["properties"], "still accepted (a different one is 403 from the router)")

    def test_body_email_is_optional_at_the_edge(self):
        # The README's walkthrough posts without one: the router takes the token's email claim.
        schema = props("OrderRequestModel")["Schema"]
        self.assertNotIn("email", schema["required"])
        self.assertIn("email", schema["properties"], "still accepted and bounded")

    def test_stage_keeps_its_throttling_and_the_waf_option(self):
        (settings,) = props("ApiGatewayStage")["MethodSettings"]
        self.assertEqual((settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]), (100, 200))
        self.assertEqual(RESOURCES["ApiWebAclAssociation"]["Condition"], "WafEnabled")


class PersonalData(unittest.TestCase):
    """Issue 12: per-customer data keys wrapped by a KMS key, and who may use them."""

    def test_key_is_symmetric_rotated_kept_and_managed_through_iam(self):
        key = RESOURCES["PersonalDataKey"]
        p = key["Properties"]
        self.assertEqual(key["Type"], "AWS::KMS::Key")
        self.assertIs(p["EnableKeyRotation"], True)
        self.assertEqual(p.get("KeySpec", "SYMMETRIC_DEFAULT"), "SYMMETRIC_DEFAULT")
        self.assertEqual(p.get("KeyUsage", "ENCRYPT_DECRYPT"), "ENCRYPT_DECRYPT")
        self.assertEqual((key["DeletionPolicy"], key["UpdateReplacePolicy"]), ("Retain", "Retain"))
        # Only the account (so IAM policies grant its use); no service may use it.
        (statement,) = p["KeyPolicy"]["Statement"]
        self.assertEqual(statement["Principal"], {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}})
        alias = props("PersonalDataKeyAlias")
        self.assertEqual(alias["TargetKeyId"], {"Ref": "PersonalDataKey"})

    def test_customer_keys_table(self):
        table = RESOURCES["CustomerKeysTable"]
        p = table["Properties"]
        self.assertEqual(p["KeySchema"], [{"AttributeName": "customerId", "KeyType": "HASH"}])
        self.assertEqual(p["AttributeDefinitions"], [{"AttributeName": "customerId", "AttributeType": "S"}])
        self.assertEqual(p["BillingMode"], "PAY_PER_REQUEST")
        # Erasure is final: no PITR and no stream keep a deleted key; the table itself is kept.
        self.assertIs(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], False)
        self.assertNotIn("StreamSpecification", p)
        self.assertIs(p["DeletionProtectionEnabled"], True)
        self.assertEqual((table["DeletionPolicy"], table["UpdateReplacePolicy"]), ("Retain", "Retain"))
        self.assertIn("no point-in-time recovery", CONTRACT.text.lower())

    def test_only_the_functions_that_seal_or_open_use_the_keys(self):
        table_arn = {"Fn::GetAtt": ["CustomerKeysTable", "Arn"]}
        key_arn = {"Fn::GetAtt": ["PersonalDataKey", "Arn"]}
        for role_id in resources_of_type("AWS::IAM::Role"):
            with self.subTest(role=role_id):
                table_actions, _ = granted(role_id, table_arn)
                key_actions, key_statements = granted(role_id, key_arn)
                self.assertEqual(table_actions, KEY_TABLE_ACTIONS.get(role_id, set()))
                self.assertEqual(key_actions, KEY_ACTIONS.get(role_id, set()))
                for s in key_statements:
                    if as_list(s["Action"]) == ["kms:GenerateDataKey"]:
                        # Only the stack's wrapping key is made by KMS; customers' keys are made
                        # in the function and wrapped under it.
                        self.assertEqual(s["Condition"], {
                            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["customerId", "keyId"]},
                            "StringEquals": {"kms:EncryptionContext:customerId": "#wrapping-key"},
                        }, "GenerateDataKey only for the stack's wrapping key")
                        continue
                    self.assertEqual(as_list(s["Action"]), ["kms:Decrypt"])
                    self.assertEqual(s["Condition"], {
                        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["customerId", "keyId"]},
                        "Null": {"kms:EncryptionContext:customerId": "false"},
                    }, "the key only with the customerId encryption context")
                # Nothing else in any statement names the table or the key.
                for s in role_statements(role_id):
                    if s.get("Effect") == "Allow" and s not in key_statements:
                        self.assertNotIn("PersonalDataKey", json.dumps(s))

    def test_the_env_vars_go_exactly_to_the_functions_that_may_use_them(self):
        for binary in CONTRACT.binaries:
            fid = logical_id_of_binary(binary)
            env = props(fid).get("Environment", {}).get("Variables", {})
            with self.subTest(function=fid):
                self.assertEqual("CUSTOMER_KEYS_TABLE" in env, fid + "Role" in KEY_TABLE_ACTIONS)
                self.assertEqual("KMS_KEY_ID" in env, fid + "Role" in KEY_ACTIONS)
                if "KMS_KEY_ID" in env:
                    self.assertEqual(env["KMS_KEY_ID"], {"Ref": "PersonalDataKey"})
                    self.assertEqual(env["CUSTOMER_KEYS_TABLE"], {"Ref": "CustomerKeysTable"})

    def test_orders_by_customer_index_and_who_may_query_it(self):
        indexes = props("OrderStatusTable")["GlobalSecondaryIndexes"]
        self.assertNotIn("byCustomer", [i["IndexName"] for i in indexes], "replaced by byCustomerKeys")
        (index,) = [i for i in indexes if i["IndexName"] == "byCustomerKeys"]
        keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        self.assertEqual((keys["HASH"], keys["RANGE"]), ("customerId", "placedKey"))
        # Keys only: a status put that keeps them writes nothing to the index.
        self.assertEqual(index["Projection"], {"ProjectionType": "KEYS_ONLY"})
        types = {a["AttributeName"]: a["AttributeType"] for a in props("OrderStatusTable")["AttributeDefinitions"]}
        self.assertEqual((types["customerId"], types["placedKey"]), ("S", "S"))
        index_arn = {"Fn::Sub": "${OrderStatusTable.Arn}/index/byCustomerKeys"}
        table_arn = {"Fn::GetAtt": ["OrderStatusTable", "Arn"]}
        for role_id in resources_of_type("AWS::IAM::Role"):
            with self.subTest(role=role_id):
                placement = role_id == "OrderPlacementLambdaRole"
                actions, _ = granted(role_id, index_arn)
                self.assertEqual(actions, {"dynamodb:Query"} if placement else set())
                # The page's rows, read back; the sweeper reads its candidates' rows the same way.
                batch = "dynamodb:BatchGetItem" in granted(role_id, table_arn)[0]
                self.assertEqual(batch, role_id in ("OrderPlacementLambdaRole", "OrderSweeperLambdaRole"))


class Hygiene(unittest.TestCase):
    def test_no_yaml_aliases(self):
        # CloudFormation refuses templates with YAML anchors/aliases.
        events = yaml.parse(TEMPLATE_PATH.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        self.assertFalse([e for e in events if isinstance(e, yaml.AliasEvent)])

    def test_every_checkov_suppression_has_a_reason(self):
        for logical, r in RESOURCES.items():
            for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", []):
                with self.subTest(resource=logical, check=skip.get("id")):
                    self.assertRegex(skip["id"], r"^CKV2?_AWS_\d+$")
                    self.assertGreaterEqual(len(skip.get("comment", "")), 40)

    def test_deploy_bootstrap_template_is_the_code_bucket_unchanged(self):
        out = subprocess.run(
            ["bash", str(DEPLOY_PATH), "--bootstrap-template"], check=True, capture_output=True, text=True
        ).stdout
        boot = cfn_yaml.loads(out)
        self.assertEqual(set(boot["Resources"]), {"LambdaCodeBucket", "LambdaCodeBucketPolicy"})
        self.assertEqual(set(boot["Parameters"]), {"LambdaCodeBucketName"})
        for logical in boot["Resources"]:
            self.assertEqual(boot["Resources"][logical], RESOURCES[logical])
        self.assertEqual(boot["Parameters"]["LambdaCodeBucketName"], TEMPLATE["Parameters"]["LambdaCodeBucketName"])
        # Everything else can only reach the bucket, never the reverse: the bucket block must not
        # reference anything the bootstrap stack lacks.
        self.assertLess(len(out), 51200, "the bootstrap template is deployed inline")


if __name__ == "__main__":
    unittest.main(verbosity=1)
