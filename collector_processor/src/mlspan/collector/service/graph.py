"""Builds the component graph of a validated configuration.

As in the OpenTelemetry Collector: a receiver is built once and feeds every pipeline
that lists it; processors are built per pipeline and chained in order; exporters and
connectors are built once and shared. A connector listed among a pipeline's exporters
feeds the pipelines that list it as a receiver (or nothing more, when it turns traces
into metrics). Each factory gets a copy of the host naming the component.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlspan.collector.pdata import TracesConsumer
from mlspan.collector.pipeline.factory import ConfigError, Host, Kind
from mlspan.collector.pipeline.fanout import fan_out
from mlspan.collector.service.config import CollectorConfig


@dataclass
class Graph:
    """Built components in start order (downstream first)."""

    started_order: list[tuple[Kind, str, Any]] = field(default_factory=list)

    def add(self, kind: Kind, component_id: str, component: Any) -> None:
        """Record a built component."""
        self.started_order.append((kind, component_id, component))

    def of_kind(self, kind: Kind) -> dict[str, Any]:
        """Built components of one kind by id (processors: ``<pipeline>/<id>``)."""
        return {cid: comp for k, cid, comp in self.started_order if k is kind}


class _Builder:
    def __init__(self, config: CollectorConfig, host: Host, graph: Graph) -> None:
        self.config = config
        self.host = host
        self.graph = graph
        self._shared: dict[tuple[Kind, str], Any] = {}
        self._entries: dict[str, TracesConsumer] = {}
        self._building: list[str] = []

    def build(self) -> Graph:
        pipelines = self.config.service.pipelines
        receivers: dict[str, list[str]] = {}
        for name, pipeline in pipelines.items():
            for component_id in pipeline.receivers:
                if component_id not in self.config.components[Kind.CONNECTOR]:
                    receivers.setdefault(component_id, []).append(name)
        for name in pipelines:
            self._entry(name)
        for component_id, names in receivers.items():
            spec = self.config.spec(Kind.RECEIVER, component_id)
            consumer = fan_out([self._entries[name] for name in names])
            receiver = spec.factory.create(
                spec.config, self.host.for_component(component_id), consumer
            )
            self.graph.add(Kind.RECEIVER, component_id, receiver)
        return self.graph

    def _entry(self, name: str) -> TracesConsumer:
        """The first consumer of pipeline ``name``, building it on first use."""
        if name in self._entries:
            return self._entries[name]
        if name in self._building:
            cycle = " -> ".join([*self._building, name])
            raise ConfigError(f"service.pipelines: connectors form a cycle ({cycle})")
        self._building.append(name)
        pipeline = self.config.service.pipelines[name]
        consumer = fan_out([self._exporter(cid) for cid in pipeline.exporters])
        for component_id in reversed(pipeline.processors):
            spec = self.config.spec(Kind.PROCESSOR, component_id)
            consumer = spec.factory.create(
                spec.config, self.host.for_component(component_id), consumer
            )
            self.graph.add(Kind.PROCESSOR, f"{name}/{component_id}", consumer)
        self._building.pop()
        self._entries[name] = consumer
        return consumer

    def _exporter(self, component_id: str) -> TracesConsumer:
        connectors = self.config.components[Kind.CONNECTOR]
        kind = Kind.CONNECTOR if component_id in connectors else Kind.EXPORTER
        key = (kind, component_id)
        if key in self._shared:
            built: TracesConsumer = self._shared[key]
            return built
        next_consumer: TracesConsumer | None = None
        if kind is Kind.CONNECTOR:
            targets = [
                name
                for name, pipeline in self.config.service.pipelines.items()
                if component_id in pipeline.receivers
            ]
            if targets:
                next_consumer = fan_out([self._entry(name) for name in targets])
        spec = self.config.spec(kind, component_id)
        component = spec.factory.create(
            spec.config, self.host.for_component(component_id), next_consumer
        )
        self._shared[key] = component
        self.graph.add(kind, component_id, component)
        return component  # type: ignore[no-any-return]


def build_graph(config: CollectorConfig, host: Host, graph: Graph | None = None) -> Graph:
    """Create every component the pipelines use, in start order (downstream first).

    Components are added to ``graph`` as they are built, so when a factory fails the
    caller can still shut down the ones built before it.
    """
    return _Builder(config, host, graph if graph is not None else Graph()).build()
