"""The ``alerts`` processor factory.

Listed once among a traces pipeline's processors, it passes batches on unchanged and
runs the alerting component beside the pipeline::

    processors:
      alerts: {webhooks: [{name: oncall, url: "http://127.0.0.1:5001/hook"}]}
    service:
      pipelines:
        traces: {receivers: [otlp], processors: [alerts], exporters: [drift]}
"""

from __future__ import annotations

from mlspan.collector.alerts.component import ALERTS_KEY, AlertingComponent
from mlspan.collector.alerts.config import AlertsConfig
from mlspan.collector.pdata import TracesConsumer
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind


def create_alerting(
    config: AlertsConfig, host: Host, next_consumer: TracesConsumer | None
) -> AlertingComponent:
    """Build the component; there is one per collector."""
    if host.extras.get(ALERTS_KEY) is not None:
        raise ConfigError(
            "processors.alerts: list the alerts processor in one pipeline only "
            "(it watches every model already)"
        )
    return AlertingComponent(config, host, next_consumer)


def alerts_factory() -> Factory[AlertsConfig]:
    """The ``alerts`` processor factory."""
    return Factory(Kind.PROCESSOR, "alerts", AlertsConfig, create_alerting)
