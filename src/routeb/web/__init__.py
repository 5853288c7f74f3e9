"""The daemon's HTTP server: /metrics now; the dashboard and JSON API build on it."""
