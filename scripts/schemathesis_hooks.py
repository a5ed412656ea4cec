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

What is asked of an order after it was placed depends on the order, which no schema can draw:
a shipment or a refund needs a COMPLETED order, and a refund's lines must be the order's. So a
case generated as valid for POST /orders/{orderId}/cancel, /shipment or /refunds is sent to an
order placed for it just before (through the API, as `ORDERS_API_URL` with `ORDERS_API_TOKEN`,
which scripts/test.sh exports): a fresh order to cancel, a completed one to ship, and for a
refund a completed order of exactly the refund's lines (one line per product, as for orders).
scripts/test.sh seeds the contract server with plenty of stock, so those orders complete.
Cases generated as invalid keep their random ids and bodies.
"""

import itertools
import json
import os
import time
import urllib.request

import schemathesis

_POST_ORDER = {("POST", "/"), ("POST", "/orders")}
_CANCEL = ("POST", "/orders/{orderId}/cancel")
_SHIP = ("POST", "/orders/{orderId}/shipment")
_REFUND = ("POST", "/orders/{orderId}/refunds")
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
    if not _is_positive(case):
        return case
    operation = (case.method.upper(), case.path)
    if operation == _REFUND and isinstance(case.body, dict):
        _one_line_per_product(case.body)
    if operation not in _POST_ORDER:
        return case
    if isinstance(case.body, dict):
        _one_line_per_product(case.body)
    _one_body_per_key(case)
    return case


def _api(method: str, path: str, body: dict | None = None) -> dict:
    """Calls the contract server as the run's operator; the JSON answer."""
    request = urllib.request.Request(
        os.environ["ORDERS_API_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {os.environ['ORDERS_API_TOKEN']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _placed(lines: list[dict], until_completed: bool) -> str:
    """An order of `lines` paid with a card that is captured; waits for COMPLETED if asked."""
    order_id = _api("POST", "/orders", {"items": lines, "paymentToken": "tok_visa"})["orderId"]
    deadline = time.monotonic() + 10
    while until_completed and time.monotonic() < deadline:
        if _api("GET", f"/orders/{order_id}")["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.01)
    return order_id


def _order_for(case) -> None:
    """Points a valid case after placement at an order placed for it (see the module doc)."""
    operation = (case.method.upper(), case.path)
    if operation == _CANCEL:
        order_id = _placed([{"productId": "USB-C-CABLE", "quantity": 1}], until_completed=False)
    elif operation == _SHIP:
        order_id = _placed([{"productId": "USB-C-CABLE", "quantity": 1}], until_completed=True)
    elif operation == _REFUND and isinstance(case.body, dict) and isinstance(case.body.get("items"), list):
        order_id = _placed(case.body["items"], until_completed=True)
    else:
        return
    case.path_parameters = {**(case.path_parameters or {}), "orderId": order_id}


def _is_list_orders(case) -> bool:
    return (case.method.upper(), case.path) == _LIST_ORDERS


@schemathesis.hook
def before_call(context, case, kwargs):
    if _is_positive(case):
        _order_for(case)
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
