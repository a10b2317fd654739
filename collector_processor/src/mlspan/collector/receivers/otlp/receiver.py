"""The ``otlp`` receiver component: gRPC and/or HTTP in front of one ``TraceIngest``."""

from __future__ import annotations

import logging

from mlspan.collector.pdata import FastSchema, TracesConsumer
from mlspan.collector.pipeline.factory import ConfigError, Factory, Host, Kind
from mlspan.collector.receivers.otlp.config import OtlpReceiverConfig, split_endpoint
from mlspan.collector.receivers.otlp.grpc_server import GrpcReceiver
from mlspan.collector.receivers.otlp.http_server import HttpReceiver
from mlspan.collector.receivers.otlp.ingest import TraceIngest
from mlspan.collector.security.bearer import Verdict
from mlspan.collector.security.exposure import warn_if_exposed

logger = logging.getLogger(__name__)


class OtlpReceiver:
    """Serves OTLP traces on the configured transports and feeds ``next_consumer``.

    ``shutdown`` first answers new requests with UNAVAILABLE/503, then lets requests in
    flight finish (a grace period), then closes the listeners; idempotent.
    """

    def __init__(
        self,
        name: str,
        config: OtlpReceiverConfig,
        next_consumer: TracesConsumer,
        host: Host,
        schema: FastSchema | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.ingest = TraceIngest(
            name, schema or FastSchema.build(), next_consumer, host.stats, config.validate_ids
        )
        protocols = config.protocols
        retry = config.retry_after_seconds
        self.grpc = GrpcReceiver(protocols.grpc, self.ingest, retry) if protocols.grpc else None
        self.http = HttpReceiver(protocols.http, self.ingest, retry) if protocols.http else None
        for server in (self.grpc, self.http):
            if server is not None:
                server.on_denied = self._count_unauthenticated
        self.stats = host.stats
        """The counters this receiver feeds."""
        self._stopped = False

    def _count_unauthenticated(self, _verdict: Verdict) -> None:
        """A request refused for a missing or wrong token, counted with the others
        (``mlspan_requests_rejected_total{reason="unauthenticated"}``)."""
        self.stats.request_rejected(self.name, "unauthenticated")

    def start(self) -> None:
        """Bind the listeners; raises ``OSError`` naming the address that failed."""
        for server in (self.grpc, self.http):
            if server is None:
                continue
            endpoint = server.config.endpoint
            warn_if_exposed(
                f"receiver {self.name} ({'gRPC' if server is self.grpc else 'HTTP'})",
                split_endpoint(endpoint)[0],
                authenticated=server.config.auth is not None,
                encrypted=server.config.tls is not None,
            )
            try:
                server.start()
            except OSError as exc:
                self.shutdown()
                raise OSError(f"receiver {self.name}: cannot listen on {endpoint}: {exc}") from exc

    def shutdown(self) -> None:
        """Stop accepting, finish requests in flight, close listeners."""
        if self._stopped:
            return
        self._stopped = True
        self.ingest.stop_accepting()
        if self.grpc is not None:
            self.grpc.shutdown()
        if self.http is not None:
            self.http.shutdown()


def create_otlp_receiver(
    config: OtlpReceiverConfig, host: Host, next_consumer: TracesConsumer | None
) -> OtlpReceiver:
    """An ``otlp`` receiver feeding ``next_consumer``."""
    if next_consumer is None:
        raise ConfigError(f"receivers.{host.component_id}: no pipeline to feed")
    schema = host.extras.get("fast_schema")
    return OtlpReceiver(host.component_id or "otlp", config, next_consumer, host, schema)


def otlp_receiver_factory() -> Factory[OtlpReceiverConfig]:
    """The ``otlp`` receiver factory."""
    return Factory(Kind.RECEIVER, "otlp", OtlpReceiverConfig, create_otlp_receiver)
