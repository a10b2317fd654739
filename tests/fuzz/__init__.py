"""Fuzzing the collector: seeds made by the real instrumentation, mutators, a harness.

The package is shared by the CI-size tests in this folder and by ``bench/fuzz.py``:

- ``seeds``: OTLP requests (protobuf and OTLP/JSON) cut from spans that mlspan's own
  instrumentation recorded while scikit-learn really fitted and predicted, so they carry
  real feature summaries (KLL sketches, category tables).
- ``byte_mutators``, ``proto_mutators``, ``json_mutators``, ``mlspan_mutators``: ways to
  break a valid request, from bit flips to a corrupt sketch behind a valid header.
- ``framing``: HTTP requests whose framing lies (content types, chunking, lengths).
- ``strategies``: ``hypothesis`` strategies for feature-summary event attributes.
- ``collector``, ``senders``, ``harness``, ``api_fuzz``: a real ``mlspan collector``
  process, the clients that fuzz it, and the run that counts crashes, hangs and 5xx.
"""
