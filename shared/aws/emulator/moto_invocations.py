"""The emulator never runs a Lambda function: it records what it would have invoked.

moto runs functions in Docker, which the project does not use. Without it, three of its
behaviours break a stack whose functions run elsewhere (tests/stack runs the release binaries
natively, behind a loopback Lambda Runtime API):

- An event source mapping makes moto hand a queue's messages and a table stream's records to
  the function itself the moment they arrive, and drop them when the (failed) invocation
  returns: a poller outside moto never sees them. Here a mapping is created and described as
  usual (its batch size, filters, starting position), but moto never delivers through it; the
  messages stay on the queue and the records on the stream for the harness, which polls as
  Lambda's pollers do.
- A rule whose target is a function makes PutEvents answer 500 (moto's events backend has no
  Lambda target). Here each event a rule matches for a function target is recorded, with the
  rule and target; the other targets (queues, log groups, archives) are delivered as before.
- A rule whose target is a Step Functions state machine makes PutEvents answer 500 as well (no
  such target either). Here EventBridge's part is played: the target's input is made as
  EventBridge makes it (InputTransformer, Input, InputPath or the whole event) and an execution
  of the state machine is started with it, under a fresh name (EventBridge names its own), as
  StartExecution would; whoever plays Step Functions runs it (moto never does).
- A custom resource makes moto invoke its ServiceToken function from a thread, with a response
  URL on a Docker host name. Here the request is recorded instead, with a response URL on this
  server's own address, where moto's CloudFormation accepts the function's answer.

The records are served, oldest first, at `GET /_order_stack/invocations?after=N` as a JSON
list of `{"seq", "functionArn", "source", "event", ...}` (`seq` counts from 1), for whoever
plays Lambda.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs

_LOCK = threading.Lock()
_RECORDS: list[dict[str, Any]] = []
PATH = "/_order_stack/invocations"


def record(function_arn: str, source: str, event: Any, **extra: Any) -> None:
    with _LOCK:
        entry = {"seq": len(_RECORDS) + 1, "functionArn": function_arn, "source": source, "event": event}
        entry.update(extra)
        _RECORDS.append(entry)


def _mappings_never_deliver() -> None:
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self, spec):
        esm = original(self, spec)
        # moto registered the mapping on the queue or the table it reads; its lists are what
        # moto delivers through. The mapping itself stays (list/get_event_source_mapping).
        from moto.dynamodb.models import dynamodb_backends
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
            table.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping


def _rules_record_function_targets() -> None:
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        if not self.event_pattern.matches_event(original_event):
            return None
        functions = [t for t in self.targets if ":lambda:" in t["Arn"]]
        for target in functions:
            event = dict(original_event)
            if "Input" in target:
                event = json.loads(target["Input"])
            record(target["Arn"], "events", event, rule=self.name, targetId=target["Id"])
        machines = [t for t in self.targets if ":states:" in t["Arn"]]
        for target in machines:
            _start_execution(target, original_event)
        others = [t for t in self.targets if t not in functions and t not in machines]
        if not others:
            return None
        kept = self.targets
        self.targets = others
        try:
            return original(self, original_event, transform_input)
        finally:
            self.targets = kept

    Rule.send_to_targets = send_to_targets


def _target_input(target: dict, event: dict) -> Any:
    """The input EventBridge gives `target` for `event`."""
    from moto.events.utils import EventTemplateParser

    transformer = target.get("InputTransformer")
    if transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse

        found = parse(target["InputPath"]).find(event)
        return found[0].value if found else None
    return {k: v for k, v in event.items() if k != "ingestion-time"}


def _start_execution(target: dict, event: dict) -> None:
    """Starts an execution of the state machine `target` names, as EventBridge does."""
    from moto.moto_api._internal import mock_random
    from moto.stepfunctions.responses import get_backend

    arn = target["Arn"]
    _, _, _, region, account, *_ = arn.split(":")
    get_backend(account, region).start_execution(
        arn, name=str(mock_random.uuid4()), execution_input=json.dumps(_target_input(target, event))
    )


def _custom_resources_record(host: str, port: int) -> None:
    from moto.awslambda.utils import get_backend as get_lambda_backend
    from moto.cloudformation.custom_model import CustomModel
    from moto.moto_api._internal import mock_random

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudformation import cloudformation_backends

        properties = cloudformation_json["Properties"]
        service_token = properties["ServiceToken"]
        fn = get_lambda_backend(account_id, region_name).get_function(service_token)
        request_id = str(mock_random.uuid4())
        custom = CustomModel(region_name, request_id, kwargs["LogicalId"], resource_name)
        stack_id = kwargs["StackId"]
        cloudformation_backends[account_id][region_name].get_stack(stack_id).add_custom_resource(custom)
        event = {
            "RequestType": "Create",
            "ServiceToken": service_token,
            "ResponseURL": f"http://{host}:{port}/cloudformation_{region_name}/cfnresponse?stack={stack_id}",
            "StackId": stack_id,
            "RequestId": request_id,
            "LogicalResourceId": kwargs["LogicalId"],
            "ResourceType": kwargs["ResourceType"],
            "ResourceProperties": properties,
        }
        record(fn.function_arn, "cloudformation", event)
        return custom

    CustomModel.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _state_machines_keep_definition() -> None:
    """moto's CloudFormation reads only DefinitionString; the template gives `Definition` (an
    object) with DefinitionSubstitutions. Store the substituted text, as Step Functions does,
    so DescribeStateMachine answers the deployed definition."""
    from moto.stepfunctions.models import StateMachine

    original = StateMachine.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json.get("Properties", {})
        if "DefinitionString" not in properties and "Definition" in properties:
            text = json.dumps(properties["Definition"])
            for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
                text = text.replace("${" + name + "}", str(value))
            properties = dict(properties, DefinitionString=text)
            cloudformation_json = dict(cloudformation_json, Properties=properties)
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    StateMachine.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def register(host: str, port: int) -> None:
    _mappings_never_deliver()
    _rules_record_function_targets()
    _custom_resources_record(host, port)
    _state_machines_keep_definition()


def serve_records(app):
    """WSGI middleware answering `GET /_order_stack/invocations?after=N`."""

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") != PATH:
            return app(environ, start_response)
        after = int(parse_qs(environ.get("QUERY_STRING", "")).get("after", ["0"])[0])
        with _LOCK:
            body = json.dumps(_RECORDS[after:]).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return wrapped
