"""Schemathesis hooks for scripts/test.sh: the two rules of POST /orders that OpenAPI cannot state.

docs/openapi.yaml states every rule of a single request that JSON Schema can express. Two are
beyond it, and a schema-valid order breaking one is rightly refused:

- one line per product (`uniqueItems` compares whole lines, not their productId): 400;
- an Idempotency-Key names one body for good, so a key drawn twice with two bodies is 422
  (that rule spans requests, so no schema of one request can hold it).

So that `positive_data_acceptance` can still prove the schema is no looser than the server,
every case generated as valid is kept within both rules: later lines for a product already
ordered are dropped (the first stays, so the order keeps at least one line), and a key seen
before with another body is swapped for a fresh key of the same pattern. Cases generated as
invalid are left untouched; the server refuses them either way.

GET /orders has one more such rule: its `cursor` is opaque, only the `next` of an earlier page
is valid, and no schema can draw one. A case generated as valid keeps a cursor only if it is
one the server handed out (the stateful NextPage link passes them on); any other is swapped
for a `next` seen before, or left out while none has been seen. Parameters a link could not
fill (`$request.query.limit` of a request without one) are left out rather than sent empty.
"""

import itertools
import json

import schemathesis

_POST_ORDER = {("POST", "/"), ("POST", "/orders")}
_LIST_ORDERS = ("GET", "/orders")
_bodies_by_key: dict[str, str] = {}
_fresh = itertools.count()
# Every `next` GET /orders answered, in order; a cursor is a position, valid for any listing.
_cursors: list[str] = []
_known_cursors: set[str] = set()


def _is_positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _one_line_per_product(body: dict) -> None:
    items = body.get("items")
    if not isinstance(items, list):
        return
    seen = set()
    kept = []
    for line in items:
        product = line.get("productId") if isinstance(line, dict) else None
        if product is not None and product in seen:
            continue
        seen.add(product)
        kept.append(line)
    body["items"] = kept


def _one_body_per_key(case) -> None:
    headers = case.headers or {}
    name = next((h for h in headers if h.lower() == "idempotency-key"), None)
    if name is None:
        return
    body = json.dumps(case.body, sort_keys=True)
    key = headers[name]
    if _bodies_by_key.setdefault(key, body) != body:
        key = f"schemathesis-{next(_fresh)}"
        headers[name] = key
        _bodies_by_key[key] = body


@schemathesis.hook
def map_case(context, case):
    if (case.method.upper(), case.path) not in _POST_ORDER or not _is_positive(case):
        return case
    if isinstance(case.body, dict):
        _one_line_per_product(case.body)
    _one_body_per_key(case)
    return case


def _is_list_orders(case) -> bool:
    return (case.method.upper(), case.path) == _LIST_ORDERS


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _is_list_orders(case) or not _is_positive(case) or not case.query:
        return
    for name in [n for n, v in case.query.items() if v is None]:
        del case.query[name]
    cursor = case.query.get("cursor")
    if cursor is None or cursor in _known_cursors:
        return
    if _cursors:
        case.query["cursor"] = _cursors[next(_fresh) % len(_cursors)]
    else:
        del case.query["cursor"]


@schemathesis.hook
def after_call(context, case, response):
    if not _is_list_orders(case) or response.status_code != 200:
        return
    try:
        cursor = response.json().get("next")
    except (ValueError, AttributeError):
        return
    if isinstance(cursor, str) and cursor not in _known_cursors:
        _known_cursors.add(cursor)
        _cursors.append(cursor)
