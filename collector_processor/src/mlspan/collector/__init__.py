"""mlspan collector: an OTLP receiver and pipeline that turns ML spans into lineage and drift."""
