"""The collector's web UI: server-rendered pages on the query API's address.

Pages (overview, runs, a run, lineage graphs, drift, alerts) are rendered with Jinja2
(autoescaping on) from the same objects the query API answers from, and registered on
the API's ``Router`` as HTML responses, so they are served by whichever server runs the
router. Charts and lineage graphs are inline SVG computed in Python; the CSS and the
little JavaScript (the write buttons) ship inside the package, nothing is fetched from
elsewhere. See docs/ui.md.

Only ``config`` and the graph modules (``graph_model``, ``graph_layout``,
``graph_export``) are light to import: the CLI uses the exporters without Jinja2.
"""
