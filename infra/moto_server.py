"""moto in server mode, with DynamoDB requests applied one at a time.

DynamoDB evaluates a write's condition atomically with the write, and serialises conflicting
transactions (or cancels them with TransactionConflict). moto's threaded server applies
concurrent DynamoDB requests without any isolation, so two conditional writes racing on one
item can both pass their conditions: that is an emulator artefact, and it made tests of our
conditional writes flaky. This launcher serves moto's own WSGI application unchanged but takes
a lock around each DynamoDB request. Other services stay concurrent (SQS long polls must not
block everyone else).

Usage: python infra/moto_server.py [--host 127.0.0.1] [--port 5000]
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_DYNAMODB_TARGET = "DynamoDB_"
_dynamodb_lock = threading.Lock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()

    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(_DYNAMODB_TARGET):
            with _dynamodb_lock:
                # moto builds the whole response inside the call; materialise it under the lock.
                return list(moto_app(environ, start_response))
        return moto_app(environ, start_response)

    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
