"""The registry: numbers versions in order of first fit and answers who is who.

``ModelRegistry`` is what other components read (``host.extras["models"]``): a model is
``(service, name)``; its versions are ``VersionRef(service, name, sequence, digest)``,
sequence 1, 2, ... in order of first fit. ``digest_of`` and ``ref_of`` turn a name and
sequence into the version digest that spans carry and back; ``resolve`` accepts what a
user types (``v3``, ``3``, a digest or a unique prefix of its hex part).

Ingest (``observe``) runs on the receiver threads; the index of names, sequences and
digests is kept in memory (bounded by ``max_models`` x ``max_versions_per_model``) and
everything else is read from the store on demand. Predict calls and further fits
of known versions only bump in-memory counts, written to the store every
``serving_flush_seconds`` (and at shutdown).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Final

from mlspan.collector.models.config import ModelsConfig
from mlspan.collector.models.records import (
    STAGE_TAGS,
    Extracted,
    FitRecord,
    MetricRow,
    ServingRow,
    VersionRef,
    VersionRow,
)
from mlspan.collector.models.store import ModelStore, summaries_json
from mlspan.semconv import attributes as attr

ModelId = tuple[str, str]
"""``(service, model name)``."""
_SKETCH_KEYS: Final = (
    attr.SUMMARY_SKETCH,
    attr.SUMMARY_SKETCH_TYPE,
    attr.SUMMARY_CATEGORIES,
)


class UnknownModelError(LookupError):
    """No model or version matches the reference; the message says what exists."""


class AmbiguousModelError(ValueError):
    """The reference matches more than one model or version; the message lists them."""


class ModelRegistry:
    """See the module docstring."""

    def __init__(
        self,
        store: ModelStore,
        config: ModelsConfig,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[ModelId, dict[str, int]] = {}
        """Digest -> sequence per model, in sequence order."""
        self._by_digest: dict[str, list[VersionRef]] = {}
        self._metric_counts: dict[str, int] = {}
        self._serving: dict[str, dict[str, ServingRow]] = {}
        self._dirty_serving: set[tuple[str, str]] = set()
        self._refits: dict[VersionRef, tuple[int, int]] = {}
        """Further fits per version since the last flush: (count, latest start)."""
        self._last_flush = time.monotonic()
        self.refused: Counter[str] = Counter()
        """Refusals by reason: ``models``, ``versions``, ``metrics``, ``services``,
        ``summaries`` (kept as schema and moments only), ``decode`` (bad spans)."""

    def load(self) -> None:
        """Read the stored index (at start)."""
        refs = self._store.refs()
        serving = self._store.serving()
        with self._lock:
            for ref in refs:
                self._index(ref)
            for digest, row in serving:
                self._serving.setdefault(digest, {})[row.service] = row

    def known(self, service: str, name: str, digest: str) -> bool:
        """Whether ``digest`` is a registered version of ``(service, name)``."""
        with self._lock:
            return digest in self._models.get((service, name), {})

    def _index(self, ref: VersionRef) -> None:
        self._models.setdefault((ref.service, ref.name), {})[ref.digest] = ref.sequence
        self._by_digest.setdefault(ref.digest, []).append(ref)

    # -- the read interface ---------------------------------------------------------------
    def models(self) -> list[ModelId]:
        """Every ``(service, name)``, sorted."""
        with self._lock:
            return sorted(self._models)

    def refs(self, service: str, name: str) -> list[VersionRef]:
        """A model's versions in sequence order (empty for an unknown model)."""
        with self._lock:
            found = self._models.get((service, name), {})
            return [VersionRef(service, name, seq, d) for d, seq in found.items()]

    def digest_of(self, service: str, name: str, sequence: int) -> str | None:
        """The digest of ``name vSEQUENCE`` of ``service``, or None."""
        with self._lock:
            for digest, seq in self._models.get((service, name), {}).items():
                if seq == sequence:
                    return digest
        return None

    def ref_of(self, digest: str, service: str | None = None) -> VersionRef | None:
        """The name and sequence of a version digest (the one under ``service`` when the
        same fitted model was registered by several services), or None."""
        with self._lock:
            refs = self._by_digest.get(digest, [])
            for ref in refs:
                if service is None or ref.service == service:
                    return ref
            return refs[0] if refs else None

    def find_model(self, name: str, service: str | None = None) -> ModelId:
        """The model called ``name`` (in ``service`` when given)."""
        models = self.models()
        matches = [m for m in models if m[1] == name and (service is None or m[0] == service)]
        if not matches:
            known = ", ".join(f"{s}/{n}" if s else n for s, n in models) or "none yet"
            where = f" in service {service!r}" if service else ""
            raise UnknownModelError(f"no model {name!r}{where} (models: {known})")
        if len(matches) > 1:
            services = ", ".join(s for s, _ in matches)
            raise AmbiguousModelError(f"model {name!r} exists in services {services}: pick one")
        return matches[0]

    def resolve(self, name: str, version: str, service: str | None = None) -> VersionRef:
        """A version of model ``name`` from ``v3``, ``3``, a digest or a unique prefix of
        the digest's hex part."""
        service_name, model = self.find_model(name, service)
        refs = self.refs(service_name, model)
        text = version.strip()
        number = text[1:] if text[:1] in ("v", "V") else text
        if number.isdigit():
            for ref in refs:
                if ref.sequence == int(number):
                    return ref
        matches = [
            r for r in refs if r.digest == text or r.digest.rsplit(":", 1)[-1].startswith(text)
        ]
        if len(text) >= 4 and len(matches) == 1:
            return matches[0]
        if len(matches) > 1 and len(text) >= 4:
            labels = ", ".join(r.label for r in matches)
            raise AmbiguousModelError(f"{text!r} matches versions {labels} of {name}")
        span = f"v1..v{len(refs)}" if refs else "none"
        raise UnknownModelError(f"{name} has no version {text!r} (versions: {span})")

    # -- detail reads ---------------------------------------------------------------------
    def versions(self, service: str, name: str) -> list[VersionRow]:
        """A model's versions in sequence order, with the fits not yet written."""
        rows = self._store.versions(service, name)
        with self._lock:
            pending = {
                ref: self._refits[ref] for ref in (r.ref for r in rows) if ref in self._refits
            }
        return [
            replace(
                r,
                fits=r.fits + pending[r.ref][0],
                last_fit_ns=max(r.last_fit_ns, pending[r.ref][1]),
            )
            if r.ref in pending
            else r
            for r in rows
        ]

    def metrics(self, digests: Iterable[str]) -> dict[str, list[MetricRow]]:
        """Stored metric rows per digest."""
        return self._store.metrics(digests)

    def serving(self, digest: str) -> list[ServingRow]:
        """The services whose predict calls used ``digest``."""
        with self._lock:
            return sorted(self._serving.get(digest, {}).values(), key=lambda r: r.service)

    def tags(self, service: str, name: str) -> dict[str, list[str]]:
        """Tags per digest of one model."""
        return self._store.tags(service, name)

    def set_tags(self, ref: VersionRef, add: list[str], remove: list[str]) -> list[str]:
        """Add and remove tags on a version; a stage tag (``staging``, ``production``,
        ``archived``) moves from the version that held it. The version's tags after."""
        moved = [tag for tag in add if tag in STAGE_TAGS]
        self._store.set_tags(
            ref.service, ref.name, ref.digest, add, remove, self._clock(), moved=moved
        )
        return self.tags(ref.service, ref.name).get(ref.digest, [])

    def refusals(self) -> dict[str, int]:
        """A copy of the refusal counts."""
        with self._lock:
            return dict(self.refused)

    # -- ingest ---------------------------------------------------------------------------
    def observe(self, found: Extracted) -> None:
        """Number new versions, count refits, keep metrics, summaries and serving."""
        versions: list[tuple[VersionRef, FitRecord, str]] = []
        for fit in found.fits:
            ref, new = self._number(fit)
            if ref is None:
                continue
            if new:
                versions.append((ref, fit, self._bounded(fit.summaries())))
            else:
                with self._lock:
                    fits, last = self._refits.get(ref, (0, 0))
                    self._refits[ref] = (fits + 1, max(last, fit.start_ns))
        metrics = []
        with self._lock:
            if found.bad:
                self.refused["decode"] += found.bad
            if found.clamped:
                self.refused["clamped"] += sum(found.clamped.values())
            for metric in found.metrics:
                if metric.digest not in self._by_digest:
                    continue
                held = self._metric_counts.get(metric.digest)
                if held is None:
                    held = self._store.metric_count(metric.digest)
                if held >= self._config.max_metrics_per_version:
                    self.refused["metrics"] += 1
                    continue
                self._metric_counts[metric.digest] = held + 1
                metrics.append(metric)
            for serving in found.serving:
                self._serve(serving.digest, serving.service, serving.at_ns, serving.calls)
        if versions or metrics:
            self._store.write(versions, (), metrics)
        for record in found.summaries:
            self._more_summaries(record.digest, record.summaries)
        if time.monotonic() - self._last_flush >= self._config.serving_flush_seconds:
            self.flush_serving()

    def _number(self, fit: FitRecord) -> tuple[VersionRef | None, bool]:
        """The version ``fit`` made and whether it is new (None when refused)."""
        key = (fit.service, fit.name)
        with self._lock:
            versions = self._models.get(key)
            if versions is None and len(self._models) >= self._config.max_models:
                self.refused["models"] += 1
                return None, False
            held = versions or {}
            sequence = held.get(fit.digest)
            if sequence is not None:
                return VersionRef(fit.service, fit.name, sequence, fit.digest), False
            if len(held) >= self._config.max_versions_per_model:
                self.refused["versions"] += 1
                return None, False
            ref = VersionRef(fit.service, fit.name, len(held) + 1, fit.digest)
            self._index(ref)
            return ref, True

    def _bounded(self, summaries: tuple[dict[str, object], ...]) -> str:
        text = summaries_json(summaries)
        if len(text) <= self._config.max_summary_bytes:
            return text
        with self._lock:
            self.refused["summaries"] += 1
        slim = [{k: v for k, v in s.items() if k not in _SKETCH_KEYS} for s in summaries]
        text = summaries_json(slim)
        return text if len(text) <= self._config.max_summary_bytes else "[]"

    def _more_summaries(self, digest: str, summaries: tuple[dict[str, object], ...]) -> None:
        """Add the summaries a wide fit's child spans carried to its version."""
        for ref in (r for r in self._by_digest.get(digest, []) if summaries):
            rows = [v for v in self._store.versions(ref.service, ref.name) if v.ref == ref]
            if not rows:
                continue
            held = json.loads(rows[0].summaries or "[]")
            known = {(s.get(attr.FEATURE_NAME), s.get(attr.FEATURE_ORIGIN)) for s in held}
            held += [
                s
                for s in summaries
                if (s.get(attr.FEATURE_NAME), s.get(attr.FEATURE_ORIGIN)) not in known
            ]
            self._store.set_summaries(ref, self._bounded(tuple(held)))

    def _serve(self, digest: str, service: str, at_ns: int, calls: int) -> None:
        if digest not in self._by_digest:
            return
        services = self._serving.setdefault(digest, {})
        row = services.get(service)
        if row is None:
            if len(services) >= self._config.max_services_per_version:
                self.refused["services"] += 1
                return
            row = ServingRow(service, at_ns, at_ns, 0)
        services[service] = ServingRow(
            service, min(row.first_ns, at_ns), max(row.last_ns, at_ns), row.calls + calls
        )
        self._dirty_serving.add((digest, service))

    def flush_serving(self) -> None:
        """Write the serving counts and further fits counted since the last flush."""
        with self._lock:
            dirty, self._dirty_serving = self._dirty_serving, set()
            rows = [(d, self._serving[d][s]) for d, s in dirty]
            refits, self._refits = self._refits, {}
            self._last_flush = time.monotonic()
        self._store.put_serving(rows)
        self._store.write((), [(ref, n, at) for ref, (n, at) in refits.items()], ())
