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
The patch restores the live table objects in place and truncates their shard to its length
before the transaction.

And its CloudFormation builds the template's Cognito user pool, app client, group and API
authorizer, which stock moto skips (moto_cfn_models.py); and it never runs a function, but
records what it would have invoked for a harness that runs them (moto_invocations.py).

Usage (same flags as moto_server): .venv/bin/python moto_serialized.py -H 127.0.0.1 -p 5599
"""

import argparse
import threading

from werkzeug.serving import run_simple

import moto_cfn_models
import moto_invocations

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

_DYNAMODB = threading.Lock()


def patch_transactions():
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        names = set()
        for item in transact_items:
            for _, op in item.items():
                if isinstance(op, dict) and op.get("TableName") in self.tables:
                    names.add(op["TableName"])
        live = {n: self.tables[n] for n in names}
        shard_len = {
            n: len(t.stream_shard.items) for n, t in live.items() if getattr(t, "stream_shard", None) is not None
        }
        try:
            return original(self, transact_items)
        except Exception:
            for n, table in live.items():
                restored = self.tables.get(n)
                if restored is not None and restored is not table:
                    shard = table.stream_shard
                    table.__dict__.update(restored.__dict__)
                    table.stream_shard = shard
                    self.tables[n] = table
                if n in shard_len:
                    del table.stream_shard.items[shard_len[n]:]
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def serialise_dynamodb(app):
    def wrapped(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        # DynamoDB_20120810.* and DynamoDBStreams_20120810.*; and moto's state dump, which reads
        # every backend's objects (tables included) while it serialises them: a DynamoDB write
        # running beside it makes the dump fail with a 500.
        dump = environ.get("PATH_INFO", "").startswith("/moto-api/data.json")
        if target.startswith("DynamoDB") or dump:
            with _DYNAMODB:
                # Consume the body inside the lock: the work may happen while it is produced.
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    patch_transactions()
    moto_cfn_models.register()
    moto_invocations.register(args.host, args.port)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        moto_invocations.serve_records(serialise_dynamodb(app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
