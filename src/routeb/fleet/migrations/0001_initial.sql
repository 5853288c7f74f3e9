-- routeb fleet store, version 1 (PostgreSQL 13+).
-- Readings are partitioned by their meter time stamp: instant and cumulative per UTC day,
-- slots per UTC month. Partitions are created ahead (and on demand) by `routeb ingest`.
-- Idempotent on (site, meter, ts) per kind: redeliveries never duplicate.

CREATE TABLE fleet_instant (
    site text NOT NULL,
    meter text NOT NULL,
    ts timestamptz NOT NULL,
    power_w integer,
    current_r_da smallint,
    current_t_da smallint,
    PRIMARY KEY (site, meter, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE fleet_cumulative (
    site text NOT NULL,
    meter text NOT NULL,
    ts timestamptz NOT NULL,
    import_raw bigint,
    export_raw bigint,
    coefficient integer NOT NULL,
    unit_code smallint,
    digits smallint,
    PRIMARY KEY (site, meter, ts)
) PARTITION BY RANGE (ts);

-- One row per 30-minute boundary: the counters there and the usage of the slot starting there
-- (0.0001 kWh), as the home computed it; `seq` is the home's outbox sequence (newest wins).
CREATE TABLE fleet_slots (
    site text NOT NULL,
    meter text NOT NULL,
    ts timestamptz NOT NULL,
    import_raw bigint,
    export_raw bigint,
    coefficient integer NOT NULL,
    unit_code smallint,
    digits smallint,
    import_use_e4 bigint,
    export_use_e4 bigint,
    seq bigint NOT NULL,
    PRIMARY KEY (site, meter, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE fleet_dead_letters (
    id bigserial PRIMARY KEY,
    received timestamptz NOT NULL DEFAULT now(),
    topic text NOT NULL,
    reason text NOT NULL,
    payload bytea NOT NULL
);

CREATE INDEX fleet_dead_letters_received ON fleet_dead_letters (received);

-- The latest reading per meter without scanning partitions.
CREATE TABLE fleet_meters (
    site text NOT NULL,
    meter text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_ts timestamptz NOT NULL,
    last_power_w integer,
    PRIMARY KEY (site, meter)
);
