"""moto's server with DynamoDB's atomicity: `moto_server`, but DynamoDB requests run one at a time.

moto_server serves requests on threads and its DynamoDB backend takes no lock, so two
conditional writes on one key can both pass their condition check (measured: about 1 round in
200 of six racing `PutItem ... attribute_not_exists`). Real DynamoDB never lets that happen,
and the event store's no-oversell guarantee rests on it. This wrapper serialises the DynamoDB
and DynamoDB Streams requests (and moto's state dump, which reads the tables) behind one lock;
every other service stays threaded, so SQS long polls do not block the rest.

It also makes a cancelled TransactWriteItems leave no trace on the table's stream. moto
applies a transaction's items one by one (each appending a stream record) and, on a cancel,
swaps deep copies of the tables back in: the records stay on the old stream shard, which open
shard iterators still read, while new writes go to the copy's shard that they never see. So a
reader saw events of a transaction that never happened (an order COMPLETED that was really out
of stock) and then nothing more. Real DynamoDB emits stream records only for committed writes.
The patch keeps the live tables (moto no longer deep-copies them on every transaction, which
made each one cost time in proportion to the table) and on a cancel puts back the items the
transaction touched and truncates their shard to its length before the transaction.

And its CloudFormation builds the template's Cognito user pool, app client, group and API
authorizer, which stock moto skips (moto_cfn_models.py); and it never runs a function, but
records what it would have invoked for a harness that runs them (moto_invocations.py).

Usage (same flags as moto_server): .venv/bin/python moto_serialized.py -H 127.0.0.1 -p 5599
(`--tls-cert FILE --tls-key FILE` serves HTTPS, for clients that should pay a TLS handshake as
they do on AWS; they then need `AWS_CA_BUNDLE` naming the certificate's authority).
"""

import argparse
import base64
import calendar
import copy
import datetime
import io
import json
import os
import re
import sys
import threading
import time

from werkzeug.serving import run_simple

import moto_cfn_models
import moto_invocations
import moto_keepalive

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)

_DYNAMODB = threading.Lock()


class _TablesUncopied:
    """moto's `copy` module as its DynamoDB backend sees it, except that a Table is not copied.

    moto's TransactWriteItems deep-copies every table it touches before it starts, to swap the
    copies back in on a cancel: the whole events table with its stream records, on every
    transaction. That made a transaction's cost grow with the table (tens of ms after a few
    hundred orders, seconds later, all of it inside the DynamoDB lock). The backend's only other
    deepcopy is of one item (UpdateItem's old image), which still happens."""

    @staticmethod
    def deepcopy(x, memo=None):
        from moto.dynamodb.models.table import Table

        return x if isinstance(x, Table) else copy.deepcopy(x, memo)


def _touched(backend, transact_items):
    """Each (table, hash key, range key) a transaction writes or checks, with the item there now
    (a copy) or None; and each touched table's stream length."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    items, shards = [], {}
    for item in transact_items:
        for kind, op in item.items():
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Item") if kind == "Put" else op.get("Key")
            try:
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
                current = table.get_item(hash_key, range_key)
            except Exception:  # noqa: BLE001 (moto answers a malformed key itself)
                continue
            items.append((table, hash_key, range_key, copy.deepcopy(current)))
            if getattr(table, "stream_shard", None) is not None:
                shards.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
    return items, shards


def _restore(items, shards):
    """Puts back each touched item as it was, and drops the stream records written since."""
    for table, hash_key, range_key, old in items:
        bucket = table.items[hash_key] if range_key is not None else table.items
        slot = range_key if range_key is not None else hash_key
        if old is None:
            bucket.pop(slot, None)
        else:
            bucket[slot] = old
    for shard, length in shards.values():
        del shard.items[length:]


def patch_transactions():
    """A cancelled TransactWriteItems leaves no trace, at the cost of its own items only.

    moto applies a transaction's items one by one (each appending a stream record) and, on a
    cancel, swaps whole-table deep copies back in: the records stayed on the old stream shard,
    which open shard iterators still read, so a reader saw events of a transaction that never
    happened. Real DynamoDB emits stream records only for committed writes. Here moto copies no
    table ([`_TablesUncopied`]); the items the transaction touches are copied before it runs,
    and on a cancel they are put back and each touched stream is cut to its length before."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend

    models.copy = _TablesUncopied
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        items, shards = _touched(self, transact_items)
        try:
            return original(self, transact_items)
        except Exception:
            _restore(items, shards)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def patch_queries():
    """A Query on a table's key reads that key's items only.

    moto answers every Query by going through all the table's items and keeping those with the
    hash key asked for: each read of an order's stream cost time in proportion to the whole
    events table, inside the DynamoDB lock. DynamoDB reads one partition. Here a Query on the
    table itself (not an index, whose items moto still scans) of a table with a sort key sees
    only the items under its hash key; moto then sorts, pages, filters and projects them as
    before."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.has_range_key:
            return original(self, hash_key, *args, **kwargs)
        bucket = self.items.get(hash_key) or {}
        self.all_items = lambda: list(bucket.values())
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def patch_items():
    """An item is sized once when it is made, not once per attribute.

    moto keeps an item's attributes in a `LimitedSizeDict`, whose every assignment sums the sizes
    of all the attributes already there, to refuse an item over DynamoDB's 400 KB: making an
    item of n attributes sized n²/2 of them (about 4 % of moto's core in the emulator flow, all
    inside the DynamoDB lock). Here `Item`'s constructor sizes its converted attributes once and
    refuses the item on that total, which is the largest of the running sums the assignments
    would have checked, with the same error. Later assignments (UpdateItem's) are checked by
    moto as before."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def __init__(self, hash_key, range_key, attrs):
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in converted.items()) > _ITEM_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, converted)

    Item.__init__ = __init__


# moto's item size limit (`LimitedSizeDict`: between DynamoDB's 400 KB and the 409–410 KB it was
# measured to allow).
_ITEM_LIMIT = 405000


def patch_conditions():
    """A condition or filter expression is parsed once per text, names and values.

    moto parses a conditional write's ConditionExpression twice (the handler, to check that
    every name is used; the backend, to evaluate it), and a Query's filter once, with a
    hand-written lexer and a dozen passes over the tokens: about a tenth of moto's core in the
    emulator flow, inside the DynamoDB lock. The pipeline sends the same few expressions again
    and again (every append's `attribute_not_exists(#s)`, every email's claim), so the parse
    tree is kept, keyed on the expression with its attribute names and values, and handed out
    again with the names and values it found. The tree is only read when it is evaluated. A
    parse that fails is not kept; the cache is emptied when it reaches 4,096 entries."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser.parse
    parsed = {}

    def parse(self):
        key = repr((self.condition_expression, self.expression_attribute_names, self.expression_attribute_values))
        hit = parsed.get(key)
        if hit is None:
            tree = original(self)
            if len(parsed) >= 4096:
                parsed.clear()
            parsed[key] = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            return tree
        tree, names, values = hit
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return tree

    ConditionExpressionParser.parse = parse


# The item operations whose answers are already wire-shaped JSON in moto: their results are
# written with `json.dumps` instead of moto's model-driven serializer (see patch_serializer).
# Not DeleteItem: moto's result has a member the model lacks (ConsumedCapacityUnits), which
# only the serializer drops.
_PLAIN_JSON = {
    "dynamodb": {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    },
    "dynamodbstreams": {"GetRecords", "GetShardIterator"},
}


# The members whose values are items or keys: attribute values in wire shape (`{"S": ...}`,
# `{"NULL": true}`), which never hold a None, so `_without_nones` does not walk them (walking
# every attribute of every item was about 7 % of moto's core in the emulator flow).
_ATTRIBUTE_MAPS = frozenset(
    {"Item", "Items", "Attributes", "Keys", "NewImage", "OldImage", "LastEvaluatedKey", "ExclusiveStartKey"}
)


def _without_nones(value):
    """The result as the serializer writes it: no member whose value is None."""
    if isinstance(value, dict):
        return {
            k: v if k in _ATTRIBUTE_MAPS else _without_nones(v) for k, v in value.items() if v is not None
        }
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


def _wire(value):
    """A timestamp as epoch seconds truncated to ms (the JSON protocols' unixtimestamp), bytes
    as base64: what the serializer writes for them."""
    if isinstance(value, datetime.datetime):
        seconds = calendar.timegm(value.timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def patch_serializer():
    """DynamoDB's item operations answer with `json.dumps` of moto's result.

    moto 5 writes every answer through a serializer driven by the botocore model, which looks
    up each member of each attribute value of each item by several aliases: about 60 % of a
    Query of one order's events, and most of a large GetRecords, all inside the DynamoDB lock.
    The results of these operations are already in DynamoDB's wire shape (attribute values as
    `{"S": ...}`), so `json.dumps` writes the same document (no None members, timestamps as
    epoch seconds). With MOTO_CHECK_PLAIN_JSON=1 in its environment the wrapper also runs moto's
    serializer on each of these answers, prints `PLAIN JSON MISMATCH` on stderr and answers
    moto's document when they differ: run the adapter tests so to check the shortcut. Errors and
    the other operations still go through moto's serializer."""
    from moto.core.responses import ActionResult

    original = ActionResult.execute_result
    check = bool(os.environ.get("MOTO_CHECK_PLAIN_JSON"))

    def execute_result(self, context):
        service = context.service_model.service_name
        operation = context.operation_model.name
        if operation not in _PLAIN_JSON.get(service, ()) or isinstance(self.result, Exception):
            return original(self, context)
        body = json.dumps(_without_nones(self.result), default=_wire)
        if check:
            status, headers, expected = original(self, context)
            if status != 200 or json.loads(expected) != json.loads(body):
                print(f"PLAIN JSON MISMATCH {operation}: {expected} != {body}", file=sys.stderr, flush=True)
                return status, headers, expected
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    ActionResult.execute_result = execute_result


def patch_dispatch():
    """Two lookups moto makes on every request, made once.

    To route a request moto lists its own package directory (a `listdir` and a `stat` per
    service, twice a request), and to find the handler's method it lists the handler class's
    members (`inspect.getmembers`). Neither answer changes while the server runs; together they
    were about a fifth of a GetItem."""
    import functools

    import moto.backends
    import moto.core.responses

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    moto.core.responses.method_names_from_class = functools.cache(moto.core.responses.method_names_from_class)


# The signing service in a SigV4 Authorization header's credential scope.
_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")

# The requests `direct_handlers` hands straight to moto's handler for them: by X-Amz-Target
# prefix (the JSON protocols), or by the service their signature names (SNS's query protocol).
_DIRECT_TARGETS = {
    "DynamoDB_20120810": ("moto.dynamodb.responses", "DynamoHandler"),
    "DynamoDBStreams_20120810": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "AmazonSQS": ("moto.sqs.responses", "SQSResponse"),
}
_DIRECT_SIGNED = {"sns": ("moto.sns.responses", "SNSResponse")}


def direct_handlers(app):
    """The requests of the services the pipeline calls on every order (DynamoDB and its
    streams, SQS, SNS) go straight to moto's handler for them.

    moto's server finds a request's service from its headers, then hands it to a Flask app made
    for that service, whose route for these (`/`) calls the handler's `dispatch` through
    `convert_to_flask_response`. Profiled in the emulator flow (py-spy, only the samples
    holding the GIL), that routing (the dispatcher, Flask's request context, its URL matching
    and its response) was about a fifth of moto's one core, the DynamoDB part of it inside the
    DynamoDB lock. Here the same handler is called with the same request (moto's
    `BackendRequest` of the same environ) and its answer made into the same Flask `Response`,
    as `convert_to_flask_response` does, less moto's request recorder, which the server leaves
    off. The request's URL, which each handler reads once, is written from the environ when it
    is the bare endpoint (what werkzeug's `url_root` computes then, at a fraction of the cost).
    Every other request goes through `app` as before. With MOTO_VIA_FLASK=1 in its environment
    the wrapper routes every request through moto's app, to compare the two."""
    import importlib

    from botocore.exceptions import ClientError
    from flask import Response
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.wrappers import Request as WerkzeugRequest

    class DirectRequest(BackendRequest):
        """moto's request without Flask's form hook. On every read of the body Flask asks for
        the current app (to help with form errors in debug mode, which moto's server never
        runs in); outside Flask's routing there is no app context, so each request raised and
        caught a RuntimeError there (about 5 % of moto's core). Werkzeug's own form loading is
        what remains."""

        _load_form_data = WerkzeugRequest._load_form_data

    def load(table):
        return {key: getattr(importlib.import_module(module), name) for key, (module, name) in table.items()}

    by_target, by_service = load(_DIRECT_TARGETS), load(_DIRECT_SIGNED)

    def handler_for(environ):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO", "/") != "/":
            return None
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return by_target.get(target.partition(".")[0])
        service = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        return by_service.get(service.group(1)) if service else None

    def wrapped(environ, start_response):
        handler = handler_for(environ)
        if handler is None:
            return app(environ, start_response)
        request = DirectRequest(environ)
        host = environ.get("HTTP_HOST", "")
        if environ.get("QUERY_STRING") or not host or host.endswith((":80", ":443")):
            url = request.raw_url
        else:
            url = f"{environ['wsgi.url_scheme']}://{host}/"
        try:
            result = handler.dispatch(request, url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, body = result if len(result) == 3 else (200, {}, result)
        return Response(response=body, status=status, headers=headers)(environ, start_response)

    return wrapped


REQUESTS_PATH = "/_order_stack/requests"
_TABLE_NAME = re.compile(rb'"TableName":\s*"([^"]+)"')


def _operation(environ):
    """The request's operation: its X-Amz-Target (`DynamoDB_20120810.PutItem`), else its
    service from the signature's scope (`sns`: the query protocol names the action in the body)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target
    service = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return service.group(1) if service else environ.get("PATH_INFO", "")


class Requests:
    """What each operation cost the emulator: per operation, the requests served, the seconds
    they waited for the DynamoDB lock and the seconds moto took (an SQS long poll's wait
    included). Served as JSON at `GET /_order_stack/requests`, so a benchmark can tell where a
    flow's time went and how many calls an order makes; `--timings PATH` also appends one line
    per request (end time, operation, tables, waited ms, served ms)."""

    def __init__(self, path=None):
        self._lock = threading.Lock()
        self._totals = {}
        self._file = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def tables(self, environ):
        """The tables a DynamoDB request names (read from its body, which is put back), for the
        per-request log only."""
        if not self._file:
            return ""
        try:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        except (KeyError, ValueError):
            return ""
        environ["wsgi.input"] = io.BytesIO(body)
        names = dict.fromkeys(m.decode() for m in _TABLE_NAME.findall(body))
        return ",".join(names)

    def add(self, operation, waited, served, tables=""):
        with self._lock:
            totals = self._totals.setdefault(operation, [0, 0.0, 0.0])
            totals[0] += 1
            totals[1] += waited
            totals[2] += served
            if self._file:
                line = f"{time.time():.6f}\t{operation}\t{tables}\t{waited * 1e3:.3f}\t{served * 1e3:.3f}\n"
                self._file.write(line)

    def serve(self, app):
        """WSGI middleware answering `GET /_order_stack/requests`."""

        def wrapped(environ, start_response):
            if environ.get("PATH_INFO") != REQUESTS_PATH:
                return app(environ, start_response)
            with self._lock:
                body = json.dumps(
                    {op: {"count": c, "waited_s": w, "served_s": s} for op, (c, w, s) in self._totals.items()}
                ).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]

        return wrapped


def serialise_dynamodb(app, requests):
    def wrapped(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        # DynamoDB_20120810.* and DynamoDBStreams_20120810.*; and moto's state dump, which reads
        # every backend's objects (tables included) while it serialises them: a DynamoDB write
        # running beside it makes the dump fail with a 500.
        dump = environ.get("PATH_INFO", "").startswith("/moto-api/data.json")
        tables = requests.tables(environ) if target.startswith("DynamoDB") else ""
        start = time.monotonic()
        locked = start
        try:
            if target.startswith("DynamoDB") or dump:
                with _DYNAMODB:
                    locked = time.monotonic()
                    # Consume the body inside the lock: the work may happen while it is produced.
                    return list(app(environ, start_response))
            # Consumed here too, so that the time served is the time taken.
            return list(app(environ, start_response))
        finally:
            requests.add(_operation(environ), locked - start, time.monotonic() - locked, tables)

    return wrapped


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--timings", help="append one line per request (operation, lock wait, ms) here")
    parser.add_argument("--access-log", action="store_true", help="log every request's line (werkzeug's access log)")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate chain (with --tls-key), as AWS endpoints do")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    args = parser.parse_args()
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    moto_keepalive.ACCESS_LOG = args.access_log
    patch_transactions()
    patch_queries()
    patch_serializer()
    patch_dispatch()
    patch_items()
    patch_conditions()
    moto_keepalive.patch_discard()
    moto_keepalive.patch_header_parsing()
    moto_cfn_models.register()
    moto_invocations.register(args.host, args.port)
    app = DomainDispatcherApplication(create_backend_app)
    routed = os.environ.get("MOTO_VIA_FLASK") == "1"
    requests = Requests(args.timings)
    run_simple(
        args.host,
        args.port,
        requests.serve(moto_invocations.serve_records(serialise_dynamodb(app if routed else direct_handlers(app), requests))),
        threaded=True,
        request_handler=moto_keepalive.KeepAliveHandler,
        ssl_context=(args.tls_cert, args.tls_key) if args.tls_cert else None,
    )


if __name__ == "__main__":
    main()
