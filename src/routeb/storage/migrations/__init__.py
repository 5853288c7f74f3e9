"""Numbered schema migrations (``NNNN_name.sql``), applied in order; see ``storage/schema.py``."""
