"""The model registry: model versions derived from spans, compared and recreatable.

No separate logging API: a user's fit span makes a model version, keyed by service and
model name (``mlspan.model.name``: ``configure(model_name=...)``, a component's
``model_name``, else the estimator's class name) and numbered ``v1``, ``v2``, ... in
order of first fit beside its digest. Score spans, search results, metrics logged with
``run.log_metric`` and the performance processor's online results give it metrics;
predict spans say where it serves; stage tags (``staging``, ``production``, user tags)
are written through the API. ``ModelRegistry`` (``registry``) is the read interface
other components use to name versions (``host.extras["models"]``).
"""
