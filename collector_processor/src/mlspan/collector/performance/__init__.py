"""Model performance from mergeable outcome summaries: realised metrics per model
version and prediction-time window, concept-drift detection on the labelled
stream and confidence-based estimates before labels arrive.

Raw predictions and labels never reach the collector; everything here works on
the counts, sums and sketches the application emits.

The ``performance`` processor (``processor``) merges the summaries of ``labels`` and
``evaluate`` spans per model version and prediction window (late labels land in their
prediction window), keeps them in ``performance.sqlite`` and serves the metrics to the
CLI, the query API, Prometheus and the alert rules.
"""
