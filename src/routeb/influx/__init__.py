"""InfluxDB: the store's outbox as line protocol over HTTP (docs/influxdb.md)."""
