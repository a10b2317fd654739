"""Fuzz payloads: one mutator family applied to one seed, for one transport.

``PayloadGenerator`` draws a family by weight (blind byte mutation, protobuf structure,
OTLP/JSON tree and text, mlspan attributes, HTTP framing, or an unchanged valid seed),
applies it to a random seed (one carrying feature summaries where it matters) and
returns a ``Payload`` that says how to send it. Payloads save to a folder as the body
plus a JSON description, and load back for replay.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from tests.fuzz.byte_mutators import mutate_bytes
from tests.fuzz.framing import FRAMING_BUILDERS
from tests.fuzz.json_mutators import JSON_MUTATORS
from tests.fuzz.mlspan_mutators import MLSPAN_MUTATORS
from tests.fuzz.proto_mutators import PROTO_MUTATORS
from tests.fuzz.seeds import Seed, Seeds, to_otlp_json

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
HTTP: Final = "http"
GRPC: Final = "grpc"
HTTP_WEIGHTS: Final = {
    "bytes": 25,
    "proto": 10,
    "json": 20,
    "mlspan": 30,
    "framing": 10,
    "valid": 5,
}
GRPC_WEIGHTS: Final = {"bytes": 35, "proto": 20, "mlspan": 40, "valid": 5}


@dataclass(frozen=True)
class Payload:
    """One fuzz request and how to send it."""

    transport: str
    """``http`` or ``grpc``."""
    family: str
    label: str
    body: bytes
    content_type: str = PROTOBUF
    raw: bool = False
    """HTTP only: ``body`` is a whole raw request (headers included), sent on a socket."""
    gzip: bool = False
    """gRPC only: send with gzip compression."""

    @property
    def kind(self) -> str:
        """``transport/family/label`` without the variable parts of the label."""
        return f"{self.transport}/{self.family}/{self.label.split('+')[0]}"

    def save(self, folder: Path, name: str) -> Path:
        """Write the body to ``folder/name.bin`` and the rest to ``folder/name.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.bin").write_bytes(self.body)
        meta = {k: v for k, v in asdict(self).items() if k != "body"}
        (folder / f"{name}.json").write_text(json.dumps(meta, indent=1))
        return folder / f"{name}.bin"

    @classmethod
    def load(cls, body_path: Path) -> Payload:
        """A payload written by ``save`` (pass the ``.bin`` path)."""
        meta = json.loads(body_path.with_suffix(".json").read_text())
        return cls(body=body_path.read_bytes(), **meta)


class PayloadGenerator:
    """Random payloads from ``seeds`` (deterministic for one ``seed``)."""

    def __init__(self, seeds: Seeds, seed: int, http_host: str = "127.0.0.1") -> None:
        self.seeds = seeds
        self.rng = random.Random(seed)
        self.http_host = http_host

    def _family(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def http(self) -> Payload:
        """A payload for the OTLP/HTTP receiver."""
        rng = self.rng
        family = self._family(HTTP_WEIGHTS)
        seed = self.seeds.pick(rng, summaries=family == "mlspan" or rng.random() < 0.5)
        use_json = rng.random() < 0.5
        if family == "json":
            name = rng.choice(tuple(JSON_MUTATORS))
            return Payload(HTTP, family, name, JSON_MUTATORS[name](rng, seed.json), JSON)
        if family == "framing":
            name = rng.choice(tuple(FRAMING_BUILDERS))
            label, raw = FRAMING_BUILDERS[name](rng, self.http_host, seed.protobuf)
            return Payload(HTTP, family, label, raw, PROTOBUF, raw=True)
        if family in ("bytes", "valid"):
            body = seed.json if use_json else seed.protobuf
            content_type = JSON if use_json else PROTOBUF
            if family == "valid":
                return Payload(HTTP, family, "seed", body, content_type)
            other = self.seeds.pick(rng)
            label, body = mutate_bytes(rng, body, other.json if use_json else other.protobuf)
            return Payload(HTTP, family, label, body, content_type)
        if family == "proto":
            name = rng.choice(tuple(PROTO_MUTATORS))
            return Payload(HTTP, family, name, PROTO_MUTATORS[name](rng, seed.request))
        return self._mlspan(HTTP, seed, use_json)

    def grpc(self) -> Payload:
        """A payload for the OTLP/gRPC receiver (protobuf bytes)."""
        rng = self.rng
        family = self._family(GRPC_WEIGHTS)
        seed = self.seeds.pick(rng, summaries=family == "mlspan" or rng.random() < 0.5)
        gzip = rng.random() < 0.1
        if family == "valid":
            return Payload(GRPC, family, "seed", seed.protobuf, gzip=gzip)
        if family == "bytes":
            label, body = mutate_bytes(rng, seed.protobuf, self.seeds.pick(rng).protobuf)
            return Payload(GRPC, family, label, body, gzip=gzip)
        if family == "proto":
            name = rng.choice(tuple(PROTO_MUTATORS))
            body = PROTO_MUTATORS[name](rng, seed.request)
            return Payload(GRPC, family, name, body, gzip=gzip)
        return self._mlspan(GRPC, seed, False)

    def _mlspan(self, transport: str, seed: Seed, use_json: bool) -> Payload:
        name = self.rng.choice(tuple(MLSPAN_MUTATORS))
        label, request = MLSPAN_MUTATORS[name](self.rng, seed.request)
        if use_json:
            return Payload(transport, "mlspan", label, to_otlp_json(request), JSON)
        return Payload(transport, "mlspan", label, request.SerializeToString())
