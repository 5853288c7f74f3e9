"""Fleets: many homes → MQTT → PostgreSQL (docs/fleet.md).

- :mod:`routeb.fleet.schema` — the versioned message format and what one message may claim;
- :mod:`routeb.fleet.bounded_json` — JSON bounded (size, nesting, duplicate keys) before parsing;
- :mod:`routeb.fleet.publisher` — :class:`FleetPublisher`, the home's outbox → MQTT;
- :mod:`routeb.fleet.ingest` — :class:`IngestWorker`, shared subscription → PostgreSQL;
- :mod:`routeb.fleet.pg` — migrations, partitions, idempotent batch writes;
- :mod:`routeb.fleet.queries` — latest readings, completeness, fleet totals;
- :mod:`routeb.fleet.simulator` — N simulated homes for tests and the benchmark.

Nothing is imported here, so ``import routeb.fleet.schema`` stays light.
"""
