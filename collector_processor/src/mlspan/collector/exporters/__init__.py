"""Exporters: the ends of a traces pipeline (``otlp`` forwarding, ``debug`` logging)."""
