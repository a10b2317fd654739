"""A/B/n experiments on model versions, with statistics that are safe to look at any time.

An experiment is declared in the ``processors.experiments`` config section or through
``POST /api/v1/experiments``: its arms (model versions, or arm names the application's
router puts on its spans as ``mlspan.experiment.arm``), the control, the metric, the
minimum detectable effect and alpha. The ``experiments`` processor (``processor``)
adds up each arm's outcomes from the mergeable performance summaries of the outcomes
API (counts for rates, sums and sums of squares for means) and the predictions routed
to it, looks at every comparison with the control after each batch with an
always-valid confidence sequence (``sequential``) under Holm's correction, and reports
per-arm metrics, the fixed-horizon tests (``fixed_horizon``), sample sizes
(``sample_size``), a sample-ratio check and a verdict to the query API, the CLI
(``mlspan experiment``), Prometheus and the alerts.
"""
