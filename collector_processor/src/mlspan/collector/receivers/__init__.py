"""Receivers: where traces enter the collector (``otlp`` over gRPC and HTTP)."""
