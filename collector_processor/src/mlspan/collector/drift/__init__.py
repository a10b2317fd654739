"""Drift engine: compares feature summaries of current data with a baseline.

Statistics are computed from the mergeable summaries carried on spans
(moments, quantile sketches, category counts); raw data never reaches the collector.
"""
