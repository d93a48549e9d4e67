"""The bot people would otherwise write: a minimal Bolt-for-Python Socket Mode app.

It does the same per-event work as warroom's fast path, so the load driver
(`examples/load.rs`) can run the same load against both and compare:

- every `message` event in the incident channel is written to the timeline table of
  warroom's own schema (the SQL files in `migrations/sqlite/`), with the same durability settings
  (WAL, synchronous=NORMAL, foreign keys), committed *before* the envelope is acked
  (`process_before_response=True`: Bolt acks only after the listener returns);
- every `/incident` command is written likewise, then acked.

Slack is the in-crate emulator: the Web API base URL comes from SLACK_API_URL, and Bolt's
built-in Socket Mode client connects to the WebSocket URL that `apps.connections.open`
returns. Configuration (all environment variables, set by the load driver):

  SLACK_API_URL      http://127.0.0.1:PORT/api/
  SLACK_BOT_TOKEN    xoxb-…   SLACK_APP_TOKEN  xapp-…
  BOLT_PEER_DB       path of the SQLite file (created and migrated here)
  BOLT_PEER_CHANNEL  the incident channel id (an incident row is created for it)
  WARROOM_MIGRATIONS the migrations folder
  BOLT_PEER_ADAPTER  `builtin` (Bolt's default Socket Mode client) or `websocket_client`
                     (the same handler over the websocket-client package; the default here,
                     because the built-in client loses WebSocket frame sync under bursts of
                     back-to-back frames, see BENCHMARKS.md)
"""

import glob
import logging
import os
import signal
import sqlite3
import threading
from datetime import datetime, timezone

from slack_bolt import App
from slack_sdk import WebClient

if os.environ.get("BOLT_PEER_ADAPTER", "websocket_client") == "builtin":
    from slack_bolt.adapter.socket_mode import SocketModeHandler
else:
    from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler

DB_PATH = os.environ["BOLT_PEER_DB"]
CHANNEL = os.environ["BOLT_PEER_CHANNEL"]

_local = threading.local()


def connect() -> sqlite3.Connection:
    """One connection per worker thread, opened as warroom's store opens its pool."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        # isolation_level=None: autocommit, each INSERT is its own committed transaction.
        conn = sqlite3.connect(DB_PATH, isolation_level=None, timeout=10, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        _local.conn = conn
    return conn


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ts_time(ts: str) -> str:
    t = datetime.fromtimestamp(float(ts), timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def migrate() -> None:
    conn = connect()
    has_schema = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='timeline'"
    ).fetchone()
    if not has_schema:
        for path in sorted(glob.glob(os.path.join(os.environ["WARROOM_MIGRATIONS"], "*.sql"))):
            with open(path, encoding="utf-8") as f:
                conn.executescript(f.read())
    conn.execute(
        "INSERT OR IGNORE INTO incidents (source_key, title, severity, status, declared_by,"
        " opened_at, channel_name, channel_id, updated_at)"
        " VALUES ('bolt-peer', 'Load test', 2, 'investigating', 'U0ALICE', ?, 'inc-load', ?, ?)",
        (now(), CHANNEL, now()),
    )


def incident_for(conn: sqlite3.Connection, channel: str):
    row = conn.execute("SELECT id FROM incidents WHERE channel_id = ?", (channel,)).fetchone()
    return row[0] if row else None


def insert_entry(channel: str, key: str, kind: str, occurred: str, actor, text: str, ts, thread_ts):
    conn = connect()
    incident = incident_for(conn, channel)
    if incident is None:
        return
    conn.execute(
        "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor,"
        " text, slack_ts, thread_ts, key_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
        " ON CONFLICT (dedupe_key) DO NOTHING",
        (incident, key, kind, occurred, now(), actor, text, ts, thread_ts),
    )


logging.basicConfig(level=logging.WARNING)
# Popped so Bolt does not also pick it up from the environment (and warn that it is unused).
client = WebClient(token=os.environ.pop("SLACK_BOT_TOKEN"), base_url=os.environ["SLACK_API_URL"])
# process_before_response: the listener (the insert) completes before the ack is sent, the
# same "durable before ack" rule warroom follows.
app = App(client=client, process_before_response=True)


@app.event("message")
def on_message(event, logger):
    if event.get("subtype") not in (None, "thread_broadcast", "file_share", "me_message"):
        return
    channel, ts = event["channel"], event["ts"]
    insert_entry(
        channel,
        f"msg:{channel}:{ts}",
        "message",
        ts_time(ts),
        event.get("user"),
        event.get("text", ""),
        ts,
        event.get("thread_ts") if event.get("thread_ts") != ts else None,
    )


@app.command("/incident")
def on_command(ack, command):
    insert_entry(
        command["channel_id"],
        f"cmd:{command['trigger_id']}",
        "note",
        now(),
        command["user_id"],
        command.get("text", ""),
        None,
        None,
    )
    ack()


if __name__ == "__main__":
    migrate()
    handler = SocketModeHandler(app, os.environ["SLACK_APP_TOKEN"])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    handler.start()
