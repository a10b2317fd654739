"""Model performance from mergeable outcome summaries: realised metrics per model
version and prediction-time window, concept-drift detection on the labelled
stream and confidence-based estimates before labels arrive.

Raw predictions and labels never reach the collector; everything here works on
the counts, sums and sketches the application emits.

The ``performance`` processor (``processor``) merges the summaries of ``labels``,
``evaluate`` and ``predictions`` spans per model version and prediction window (late
labels land in their prediction window), keeps them in ``performance.sqlite`` and serves
the realised metrics and the estimated ones (``estimated``: from the binned predicted
probabilities of every prediction, calibrated on a labelled reference) to the CLI, the
query API, Prometheus and the alert rules.
"""
