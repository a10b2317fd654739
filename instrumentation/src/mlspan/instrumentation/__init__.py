"""mlspan instrumentation: scikit-learn and pandas calls become OpenTelemetry spans."""
