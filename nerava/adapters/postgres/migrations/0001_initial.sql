-- Every store of Nerava, and the two windows a new catalog starts with.
--
-- Money is bigint cents, energy bigint watt-hours, times timestamptz.
-- Structured values are jsonb. Ids that are listed in order use the "C"
-- collation, so that they sort by code point whatever the server's locale.

CREATE TABLE windows (
    id text COLLATE "C" PRIMARY KEY,
    label text NOT NULL,
    timezone text NOT NULL,
    start_local time NOT NULL,
    end_local time NOT NULL,
    price_per_kwh numeric NOT NULL,
    multiplier numeric NOT NULL,
    days smallint[] NOT NULL,
    start_date date,
    end_date date,
    hub_ids text[] NOT NULL
);

CREATE TABLE catalog_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version bigint NOT NULL
);

INSERT INTO catalog_version (version) VALUES (0);

INSERT INTO windows (
    id, label, timezone, start_local, end_local, price_per_kwh, multiplier,
    days, start_date, end_date, hub_ids
) VALUES
    ('solar_surplus', 'Solar Surplus', 'UTC', '10:00', '14:00', 0.03, 1.0,
     '{1,2,3,4,5,6,7}', NULL, NULL, '{}'),
    ('green_hour', 'Green Hour', 'UTC', '14:00', '17:00', 0.08, 2.0,
     '{1,2,3,4,5,6,7}', NULL, NULL, '{}');

CREATE TABLE sessions (
    session_id text PRIMARY KEY,
    user_id text NOT NULL,
    hub_id text NOT NULL,
    state text NOT NULL CHECK (state IN ('active', 'stopped', 'cancelled')),
    started_at timestamptz NOT NULL,
    active_window_id text,
    terms jsonb NOT NULL,
    stopped_at timestamptz,
    wh bigint CHECK (wh >= 0),
    meter_values jsonb NOT NULL,
    reward jsonb,
    credit_status_at_stop text CHECK (credit_status_at_stop IN ('credited', 'pending')),
    balance_at_stop_cents bigint,
    cancelled_at timestamptz,
    cancel_reason text,
    CHECK (
        state <> 'stopped'
        OR (stopped_at IS NOT NULL AND wh IS NOT NULL AND reward IS NOT NULL)
    )
);

-- At most one active session per user, whoever races to start one.
CREATE UNIQUE INDEX sessions_one_active_per_user ON sessions (user_id)
    WHERE state = 'active';

CREATE TABLE wallets (
    user_id text PRIMARY KEY,
    balance_cents bigint NOT NULL CHECK (balance_cents >= 0)
);

CREATE TABLE ledger_entries (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id text NOT NULL UNIQUE,
    user_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('charge_reward', 'redemption', 'adjustment')),
    amount_cents bigint NOT NULL,
    created_at timestamptz NOT NULL,
    session_id text,
    reason text,
    actor text NOT NULL,
    reverses_entry_id text
);

-- A session's reward is credited at most once, however many processors race.
CREATE UNIQUE INDEX ledger_one_reward_per_session ON ledger_entries (session_id)
    WHERE kind = 'charge_reward';

CREATE INDEX ledger_entries_by_user ON ledger_entries (user_id, seq);

CREATE TABLE pending_credits (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id text NOT NULL UNIQUE,
    user_id text NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    created_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error text
);

CREATE INDEX pending_credits_by_age ON pending_credits (created_at, seq);

CREATE INDEX pending_credits_by_user ON pending_credits (user_id);

CREATE TABLE outbox (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text NOT NULL,
    event jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    published_at timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL;

CREATE TABLE idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    created_at timestamptz NOT NULL,
    locked_until timestamptz NOT NULL,
    response_status integer,
    response_body bytea,
    PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

CREATE TABLE api_keys (
    key_id text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    digest text NOT NULL UNIQUE,
    scopes text[] NOT NULL,
    hub_ids text[] NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
