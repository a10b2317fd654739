"""Data validation: schema checks and summary-metric benchmarks against a baseline.

Configured per model by a JSON file (see ``config``); checks run on the same merged
feature summaries the drift engine compares, so no raw data is needed.
"""
