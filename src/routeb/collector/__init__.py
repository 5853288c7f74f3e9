"""Continuous recording: schedules, backfill, and the live state everything else shows."""
