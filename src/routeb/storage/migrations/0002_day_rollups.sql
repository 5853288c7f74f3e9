-- Per JST day rollups, kept in the same transaction as the rows they sum, so that daily and
-- monthly views over ten years read ~3,650 rows instead of ~175,000 slots (docs/storage.md).
-- JST day index = (unix seconds + 32400) / 86400 (times.py).

CREATE TABLE slot_days (
    meter_id      INTEGER NOT NULL REFERENCES meters (id),
    day           INTEGER NOT NULL,
    import_use_e4 INTEGER,            -- sum of the day's known slot usages (NULL: none known)
    export_use_e4 INTEGER,
    import_n      INTEGER NOT NULL,   -- slots with a known import usage
    export_n      INTEGER NOT NULL,
    bounds        INTEGER NOT NULL,   -- boundaries with an import counter
    PRIMARY KEY (meter_id, day)
) WITHOUT ROWID;

INSERT INTO slot_days
SELECT meter_id, (slot_start + 32400) / 86400, sum(import_use_e4), sum(export_use_e4),
       count(import_use_e4), count(export_use_e4), count(import_raw)
FROM slots GROUP BY meter_id, (slot_start + 32400) / 86400;

CREATE TABLE power_day (
    meter_id INTEGER NOT NULL REFERENCES meters (id),
    day      INTEGER NOT NULL,
    max_w    INTEGER NOT NULL,        -- the day's highest instantaneous power
    PRIMARY KEY (meter_id, day)
) WITHOUT ROWID;

INSERT INTO power_day
SELECT meter_id, (start + 32400) / 86400, max(max_w)
FROM power_halfhour GROUP BY meter_id, (start + 32400) / 86400;
