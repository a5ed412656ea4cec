"""moto's server with DynamoDB's atomicity: `moto_server`, but DynamoDB requests run one at a time.

moto_server serves requests on threads and its DynamoDB backend takes no lock, so two
conditional writes on one key can both pass their condition check (measured: about 1 round in
200 of six racing `PutItem ... attribute_not_exists`). Real DynamoDB never lets that happen,
and the event store's no-oversell guarantee rests on it. This wrapper serialises the DynamoDB
and DynamoDB Streams requests behind one lock; every other service stays threaded, so SQS long
polls do not block the rest.

Usage (same flags as moto_server): .venv/bin/python moto_serialized.py -H 127.0.0.1 -p 5599
"""

import argparse
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

_DYNAMODB = threading.Lock()


def serialise_dynamodb(app):
    def wrapped(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB"):  # DynamoDB_20120810.* and DynamoDBStreams_20120810.*
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
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialise_dynamodb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
