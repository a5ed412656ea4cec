"""moto's server keeping connections open: a request handler for `moto_serialized.py`.

Werkzeug's development server answers every request with `Connection: close`, so each SDK call
opened a new TCP connection and moto started a new thread for it. Profiled in the emulator flow
(py-spy, only the samples holding the GIL), accepting connections and starting their threads
was about a fifth of moto's one core. `KeepAliveHandler` keeps the connection for the client's
next request; `patch_discard` makes werkzeug's post-answer discard safe for that;
`patch_header_parsing` reads request headers without the email package's feed parser.
"""

import http.client
import io
import os
import selectors
import socket
import threading
import time

from moto.moto_server.werkzeug_app import MotoRequestHandler

# Whether werkzeug logs every request (`--access-log`).
ACCESS_LOG = False

# Whether the request this thread serves was read whole (KeepAliveHandler.make_environ).
_DRAINED = threading.local()
_DRAINED.value = False


class _DrainedSelector(selectors.DefaultSelector):
    """The selector werkzeug's post-answer discard polls: after a drained request it reports
    nothing to read, so the discard leaves the client's next request where it is."""

    def select(self, timeout=None):
        if getattr(_DRAINED, "value", False):
            return []
        return super().select(timeout)


def patch_discard():
    """werkzeug.serving's `selectors`, with DefaultSelector as `_DrainedSelector`."""
    import types

    import werkzeug.serving

    shim = types.SimpleNamespace(**{k: getattr(selectors, k) for k in dir(selectors) if not k.startswith("__")})
    shim.DefaultSelector = _DrainedSelector
    werkzeug.serving.selectors = shim


_stock_parse_headers = http.client.parse_headers


def _parse_headers(fp, _class=http.client.HTTPMessage):
    """`http.client.parse_headers` without the email package's feed parser, which was about a
    sixth of moto's core in the emulator flow: the same header lines, read with the same limits,
    each stored the way the parser's own policy stores it (`header_source_parse`, `set_raw`). A
    block it would not read as headers (a line without a colon) goes to the stock parser."""
    lines = http.client._read_headers(fp)
    msg = _class()
    blocks = []
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line in ("\r\n", "\n", ""):
            break
        if line[0] in " \t" and blocks:
            blocks[-1].append(line)
        elif ":" in line and line[0] != ":":
            blocks.append([line])
        else:
            return _stock_parse_headers(io.BytesIO(b"".join(lines)), _class=_class)
    for block in blocks:
        msg.set_raw(*msg.policy.header_source_parse(block))
    return msg


def patch_header_parsing():
    """http.server (werkzeug's request handler) parses request headers with `_parse_headers`
    (set on http.client, which http.server calls), unless MOTO_STOCK_HEADERS=1."""
    if os.environ.get("MOTO_STOCK_HEADERS") != "1":
        http.client.parse_headers = _parse_headers


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, keeping a client's connection open between requests.

    A request's body is read whole before the application runs (`make_environ`), so nothing is
    left unread, and werkzeug's `Connection: close` is dropped: the connection serves the
    client's next request on the same thread. A chunked request body, an HTTP/1.0 client or a
    client that asks to close still closes. `Date` is formatted once a second, not per answer."""

    _date = (0, "")

    def setup(self):
        super().setup()
        # An answer goes out in several writes (status and headers, body): on a connection
        # that stays open, Nagle's algorithm held the body until the client's delayed ACK of
        # the headers, 40 ms later. Closing the connection used to flush it.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self):
        # A request that fails before its environ is made (a bad request line) closes.
        _DRAINED.value = False
        super().handle_one_request()

    def make_environ(self):
        environ = super().make_environ()
        _DRAINED.value = False
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length > 0 else b"")
            _DRAINED.value = True
        return environ

    def send_header(self, keyword, value):
        if keyword.lower() == "connection" and value.lower() == "close" and getattr(_DRAINED, "value", False):
            return
        super().send_header(keyword, value)

    def log_request(self, code="-", size="-"):
        # One access-log line per request was about 5 % of moto's core; `--access-log` keeps
        # them (`--timings` writes a line per request with its operation and times instead).
        if ACCESS_LOG:
            super().log_request(code, size)

    def date_time_string(self, timestamp=None):
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        second, text = KeepAliveHandler._date
        if second != now:
            text = super().date_time_string(now)
            KeepAliveHandler._date = (now, text)
        return text
