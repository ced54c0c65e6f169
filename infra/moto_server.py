"""moto in server mode, with DynamoDB requests applied one at a time.

DynamoDB evaluates a write's condition atomically with the write, and serialises conflicting
transactions (or cancels them with TransactionConflict). moto's threaded server applies
concurrent DynamoDB requests without any isolation, so two conditional writes racing on one
item can both pass their conditions: that is an emulator artefact, and it made tests of our
conditional writes flaky. This launcher serves moto's own WSGI application unchanged but takes
a lock around each DynamoDB request. Other services stay concurrent (SQS long polls must not
block everyone else).

It also makes moto's TransactWriteItems cost what the transaction touches: moto backs up every
table a transaction names with a deep copy before applying it (to roll back on a cancelled
condition), so each transaction costs time and memory in proportion to the whole table, and a
long load run slows to a crawl (200 users: still running after 25 minutes, moto at 7 GB). Here
the items the transaction names are saved instead, moto's whole-table copy becomes a reference,
and a failed transaction puts exactly those items back: the same all-or-nothing outcome.
The patch switches Table's deep copy off for the length of one transaction, a class-wide
setting: it is only safe because the lock above lets one DynamoDB request run at a time.

Usage: python infra/moto_server.py [--host 127.0.0.1] [--port 5000]
"""

import argparse
import copy
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_DYNAMODB_TARGET = "DynamoDB_"
_dynamodb_lock = threading.Lock()


_moto_transact_write_items = DynamoDBBackend.transact_write_items


def _named_items(backend, transact_items):
    """(table, hash key, range key, a copy of the item or None) for each item a transaction names."""
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        attrs = op.get("Item") or op.get("Key") or {}
        if table is None or table.hash_key_attr not in attrs:
            continue  # moto refuses it before writing anything
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = None
        if table.has_range_key:
            if table.range_key_attr not in attrs:
                continue
            range_key = DynamoType(attrs[table.range_key_attr])
        before = table.get_item(hash_key, range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(before)))
    return saved


def _transact_write_items(self, transact_items):
    saved = _named_items(self, transact_items)
    # The only deep copy of a Table in the call is the backup; make it the table itself.
    Table.__deepcopy__ = lambda table, memo: table
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        # Undo in reverse, so an item named twice ends as it was before the first.
        for table, hash_key, range_key, before in reversed(saved):
            if before is None:
                table.delete_item(hash_key, range_key)
            elif range_key is None:
                table.items[hash_key] = before
            else:
                table.items[hash_key][range_key] = before
        raise
    finally:
        del Table.__deepcopy__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()

    DynamoDBBackend.transact_write_items = _transact_write_items
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
