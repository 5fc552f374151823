-- Every store of Nerava, and the two windows a new catalog starts with.
--
-- Times are integer microseconds since the Unix epoch, UTC. Money is integer
-- cents, energy integer watt-hours. Structured values are JSON text.

CREATE TABLE windows (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    timezone TEXT NOT NULL,
    start_local TEXT NOT NULL,
    end_local TEXT NOT NULL,
    price_per_kwh TEXT NOT NULL,
    multiplier TEXT NOT NULL,
    days TEXT NOT NULL,
    start_date TEXT,
    end_date TEXT,
    hub_ids TEXT NOT NULL
) STRICT;

CREATE TABLE catalog_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version INTEGER NOT NULL
) STRICT;

INSERT INTO catalog_version (singleton, version) VALUES (1, 0);

INSERT INTO windows (
    id, label, timezone, start_local, end_local, price_per_kwh, multiplier,
    days, start_date, end_date, hub_ids
) VALUES
    ('solar_surplus', 'Solar Surplus', 'UTC', '10:00:00', '14:00:00', '0.03', '1.0',
     '[1,2,3,4,5,6,7]', NULL, NULL, '[]'),
    ('green_hour', 'Green Hour', 'UTC', '14:00:00', '17:00:00', '0.08', '2.0',
     '[1,2,3,4,5,6,7]', NULL, NULL, '[]');

CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    hub_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'stopped', 'cancelled')),
    started_at INTEGER NOT NULL,
    active_window_id TEXT,
    terms TEXT NOT NULL,
    stopped_at INTEGER,
    wh INTEGER CHECK (wh >= 0),
    meter_values TEXT NOT NULL,
    reward TEXT,
    credit_status_at_stop TEXT CHECK (credit_status_at_stop IN ('credited', 'pending')),
    balance_at_stop_cents INTEGER,
    cancelled_at INTEGER,
    cancel_reason TEXT,
    CHECK (
        state <> 'stopped'
        OR (stopped_at IS NOT NULL AND wh IS NOT NULL AND reward IS NOT NULL)
    )
) STRICT;

-- At most one active session per user, whoever races to start one.
CREATE UNIQUE INDEX sessions_one_active_per_user ON sessions (user_id)
    WHERE state = 'active';

CREATE TABLE wallets (
    user_id TEXT PRIMARY KEY,
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0)
) STRICT;

CREATE TABLE ledger_entries (
    seq INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('charge_reward', 'redemption', 'adjustment')),
    amount_cents INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    session_id TEXT,
    reason TEXT,
    actor TEXT NOT NULL,
    reverses_entry_id TEXT
) STRICT;

-- A session's reward is credited at most once, however many processors race.
CREATE UNIQUE INDEX ledger_one_reward_per_session ON ledger_entries (session_id)
    WHERE kind = 'charge_reward';

CREATE INDEX ledger_entries_by_user ON ledger_entries (user_id, seq);

CREATE TABLE pending_credits (
    seq INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error TEXT
) STRICT;

CREATE INDEX pending_credits_by_age ON pending_credits (created_at, seq);

CREATE INDEX pending_credits_by_user ON pending_credits (user_id);

-- AUTOINCREMENT: a position is never reused, even after the newest rows go.
CREATE TABLE outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    published_at INTEGER
) STRICT;

CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL;

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    response_status INTEGER,
    response_body BLOB,
    PRIMARY KEY (scope, key)
) STRICT;

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    hub_ids TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
