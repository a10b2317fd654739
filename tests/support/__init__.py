"""Shared test helpers: real servers and clients that tests start on 127.0.0.1."""
