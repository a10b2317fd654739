"""Collector ingest, pipeline, exporter and service tests."""
