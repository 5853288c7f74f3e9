-- routeb fleet store, version 2: every dead letter says which rule it broke (the `kind` label
-- of routeb_ingest_dead_letters_total, docs/fleet.md#dead-letters); `reason` keeps the detail.
ALTER TABLE fleet_dead_letters ADD COLUMN kind text NOT NULL DEFAULT 'unknown';
CREATE INDEX fleet_dead_letters_kind ON fleet_dead_letters (kind, received);
