"""routeb: read a Japanese smart electricity meter over the B-route, record it, show it."""

__version__ = "0.1.0"
