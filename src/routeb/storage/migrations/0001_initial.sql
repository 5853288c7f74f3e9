-- routeb schema 1 (docs/storage.md). Units: energy *_e4 = 0.0001 kWh, power W, current *_da =
-- 0.1 A, every time column = UTC unix seconds. `seq` columns take values from the one global
-- counter in `sequence`: a row gets a new, larger seq whenever its content changes, which makes
-- every table an ordered outbox (rows with seq > a consumer's acked_seq are not yet published).

CREATE TABLE sequence (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL CHECK (value >= 0)
);
INSERT INTO sequence (id, value) VALUES (1, 0);

-- Facts about the store itself, e.g. the retention horizon of raw readings.
CREATE TABLE store_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meters (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE CHECK (length(key) > 0),
    metadata   TEXT NOT NULL DEFAULT '{}',      -- JSON object: maker_code, serial, release, …
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    seq        INTEGER NOT NULL UNIQUE
);

-- E7/E8, kept `raw_days` (default 31); the aggregates below are kept forever.
CREATE TABLE instant (
    seq          INTEGER PRIMARY KEY,
    meter_id     INTEGER NOT NULL REFERENCES meters (id),
    ts           INTEGER NOT NULL,
    power_w      INTEGER,
    current_r_da INTEGER,
    current_t_da INTEGER,
    UNIQUE (meter_id, ts)
);

-- E0/E3 with their scale (raw × coefficient × E1 = kWh) and D7 digits, kept `raw_days`.
CREATE TABLE cumulative (
    seq         INTEGER PRIMARY KEY,
    meter_id    INTEGER NOT NULL REFERENCES meters (id),
    ts          INTEGER NOT NULL,
    import_raw  INTEGER,
    import_e4   INTEGER,
    export_raw  INTEGER,
    export_e4   INTEGER,
    coefficient INTEGER NOT NULL,
    unit_code   INTEGER,
    digits      INTEGER,
    UNIQUE (meter_id, ts)
);

-- One row per meter and :00/:30 boundary: the counters there (per direction, with the source
-- that gave them) and the usage from this boundary to the next, computed across the 10^D7 wrap.
CREATE TABLE slots (
    seq           INTEGER PRIMARY KEY,
    meter_id      INTEGER NOT NULL REFERENCES meters (id),
    slot_start    INTEGER NOT NULL CHECK (slot_start % 1800 = 0),
    import_raw    INTEGER,
    import_e4     INTEGER,
    import_source TEXT CHECK (import_source IN ('push', 'poll', 'history1', 'history2')),
    export_raw    INTEGER,
    export_e4     INTEGER,
    export_source TEXT CHECK (export_source IN ('push', 'poll', 'history1', 'history2')),
    coefficient   INTEGER NOT NULL,
    unit_code     INTEGER,
    digits        INTEGER,
    import_use_e4 INTEGER,
    export_use_e4 INTEGER,
    conflicts     INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL,
    UNIQUE (meter_id, slot_start),
    CHECK ((import_raw IS NULL) = (import_source IS NULL)),
    CHECK ((export_raw IS NULL) = (export_source IS NULL))
);

-- Instantaneous power per minute and per half hour, maintained as readings are inserted.
CREATE TABLE power_minute (
    meter_id INTEGER NOT NULL REFERENCES meters (id),
    start    INTEGER NOT NULL CHECK (start % 60 = 0),
    samples  INTEGER NOT NULL CHECK (samples > 0),
    min_w    INTEGER NOT NULL,
    max_w    INTEGER NOT NULL,
    sum_w    INTEGER NOT NULL,
    PRIMARY KEY (meter_id, start)
) WITHOUT ROWID;

CREATE TABLE power_halfhour (
    meter_id INTEGER NOT NULL REFERENCES meters (id),
    start    INTEGER NOT NULL CHECK (start % 1800 = 0),
    samples  INTEGER NOT NULL CHECK (samples > 0),
    min_w    INTEGER NOT NULL,
    max_w    INTEGER NOT NULL,
    sum_w    INTEGER NOT NULL,
    PRIMARY KEY (meter_id, start)
) WITHOUT ROWID;

CREATE TABLE link_events (
    seq      INTEGER PRIMARY KEY,
    meter_id INTEGER NOT NULL REFERENCES meters (id),
    ts       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT '',
    UNIQUE (meter_id, ts, kind, detail)
);

-- The publisher's progress: every row with seq <= acked_seq has been acknowledged.
CREATE TABLE outbox_acks (
    consumer  TEXT PRIMARY KEY,
    acked_seq INTEGER NOT NULL CHECK (acked_seq >= 0)
) WITHOUT ROWID;
