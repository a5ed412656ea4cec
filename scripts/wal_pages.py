#!/usr/bin/env python3
"""Which tables and indexes fill the WAL: the pages of the frames in a SQLite WAL file, by owner.

    python3 scripts/wal_pages.py DATA_DIR        # a running `orders serve --data-dir DATA_DIR`
    python3 scripts/wal_pages.py --self-test

Copies `orders.db` and `orders.db-wal` out of DATA_DIR (the server keeps writing; a copy taken
mid-commit only loses that commit's frames, which the WAL's salts leave out), reads the valid
frames of the WAL (those whose salts match its header: the ones since the WAL last restarted)
and names each frame's page through SQLite's `dbstat` table. Prints, per table or index, its
frames and frames per commit, largest first; and for the events' `(stream_id, version)` index,
how many of its frames were product streams' pages (each product's range in that index ends
on a page of its own, which every commit that reserves the product rewrites).

Every commit writes each page it changed once, whole, to the WAL, and the checkpointer copies it
to the database file again: frames per commit are the writer's I/O (BENCHMARKS.md, "After issue
16, sixteenth part").
"""

import collections
import os
import shutil
import sqlite3
import struct
import sys
import tempfile

WAL_HEADER = 32
FRAME_HEADER = 24
# The events' (stream_id, version) key is an automatic index whose name depends on the table's
# history (`sqlite_autoindex_events_2` while the event id had an index of its own, `_1` since
# migrations/0010_events_rebuilt.sql): it is found by its columns instead.
STREAM_KEY = ["stream_id", "version"]
EVENTS_STREAM_INDEX = "the events' (stream_id, version) index"


def stream_key_index(conn) -> str:
    """The name of the events table's index on exactly (stream_id, version)."""
    for _seq, name, *_ in conn.execute("PRAGMA index_list('events')"):
        columns = [r[2] for r in conn.execute(f"PRAGMA index_info('{name}')")]
        if columns == STREAM_KEY:
            return name
    return ""


def frames(wal: bytes):
    """(page number, is a commit) of each valid frame, and the page size."""
    if len(wal) < WAL_HEADER:
        return [], 0
    _magic, _version, page_size, _ckpt, salt1, salt2, _c1, _c2 = struct.unpack(
        ">IIIIIIII", wal[:WAL_HEADER]
    )
    out, offset = [], WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        page, db_size, s1, s2, _k1, _k2 = struct.unpack(
            ">IIIIII", wal[offset : offset + FRAME_HEADER]
        )
        if (s1, s2) != (salt1, salt2):
            break
        out.append((page, db_size != 0, offset + FRAME_HEADER))
        offset += FRAME_HEADER + page_size
    return out, page_size


def report(db_path: str, wal: bytes) -> dict:
    found, page_size = frames(wal)
    commits = sum(1 for _, commit, _ in found if commit)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    key_index = stream_key_index(conn)
    owner = {
        page: EVENTS_STREAM_INDEX if name == key_index else name
        for page, name in conn.execute("SELECT pageno, name FROM dbstat")
    }
    conn.close()
    by_owner = collections.Counter(owner.get(page, "(new or free pages)") for page, _, _ in found)
    kinds = collections.Counter()
    for page, _, at in found:
        if owner.get(page) == EVENTS_STREAM_INDEX:
            content = wal[at : at + page_size]
            if content[0] in (2, 5):  # interior index / table b-tree page
                kinds["interior"] += 1
            elif b"product#" in content:
                kinds["product streams"] += 1
            else:
                kinds["order streams"] += 1
    return {"frames": len(found), "commits": commits, "by_owner": by_owner, "events_index": kinds}


def snapshot(data_dir: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        # The WAL first: frames appended after it is read are simply not counted; the database
        # file copied after it can only be newer, which dbstat's page owners tolerate.
        with open(os.path.join(data_dir, "orders.db-wal"), "rb") as f:
            wal = f.read()
        db = os.path.join(tmp, "orders.db")
        shutil.copy(os.path.join(data_dir, "orders.db"), db)
        with open(db + "-wal", "wb") as f:
            f.write(wal)
        return report(db, wal)


def show(r: dict) -> None:
    commits = max(r["commits"], 1)
    print(f"{r['frames']} frames in {r['commits']} commits")
    print("| table or index | frames | per commit | share |")
    print("|---|---:|---:|---:|")
    for name, n in r["by_owner"].most_common():
        print(f"| {name} | {n} | {n / commits:.2f} | {100 * n / max(r['frames'], 1):.1f} % |")
    if r["events_index"]:
        print(f"{EVENTS_STREAM_INDEX}: " + ", ".join(
            f"{k} {v}" for k, v in r["events_index"].most_common()))


def self_test() -> None:
    """A WAL written here, by this Python's SQLite: the frames counted are the pages written,
    with the log's keys as the first migration declared them and as they are since the
    tenth (no event-id index: the stream key's automatic index is then the first)."""
    for event_id in ("event_id TEXT UNIQUE, ", "event_id TEXT, "):
        self_test_with(event_id)
    print("wal_pages self-test passed")


def self_test_with(event_id: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "orders.db")
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute(f"CREATE TABLE events (position INTEGER PRIMARY KEY, {event_id}"
                     "stream_id TEXT, version INTEGER, UNIQUE (stream_id, version))")
        conn.execute("CREATE TABLE other (k TEXT PRIMARY KEY)")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for i in range(3):
            conn.execute("INSERT INTO events (event_id, stream_id, version) VALUES (?, ?, ?)",
                         (f"e{i}", "product#P1", i + 1))
            conn.commit()
        with open(db + "-wal", "rb") as f:
            wal = f.read()
        r = report(db, wal)
        conn.close()
        assert r["commits"] == 3, r
        # Each commit rewrote the table's one page and the index's one page.
        assert r["by_owner"]["events"] == 3, r
        assert r["by_owner"][EVENTS_STREAM_INDEX] == 3, r
        assert r["events_index"]["product streams"] == 3, r
        assert "other" not in r["by_owner"], r


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    elif len(sys.argv) == 2:
        show(snapshot(sys.argv[1]))
    else:
        sys.exit(__doc__)
