"""mlspan-aware mutators: requests whose framing and OTLP shape are valid but whose
``mlspan.*`` attributes are hostile.

Each takes a random source and a request (left unchanged) and returns a mutated copy
and a label, so the caller can send it as protobuf or OTLP/JSON: a wrong type for any
``mlspan.*`` attribute, a sketch corrupted behind a valid header, broken category
tables and counts, absurd timestamps, NaN or deeply nested model parameters, huge
lineage arrays.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from typing import Final

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from mlspan import semconv
from mlspan.semconv.events import FEATURE_SUMMARY
from tests.fuzz.seeds import Request, spans_of
from tests.fuzz.sketch_corruption import corrupt

MlspanMutator = Callable[[random.Random, Request], tuple[str, Request]]

PREFIX: Final = "mlspan."
ABSURD_TIMES: Final = (0, 1, 2**62, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1)
BAD_PARAMS: Final = (
    '{"C": NaN}',
    '{"C": Infinity, "tol": -Infinity}',
    "NaN",
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    '{"C": 1e999}',
    '{"C": 123456789012345678901234567890}',
    "not json",
    '{"C": 1',
    "",
    '"just a string"',
    "[1, 2, 3]",
    '{"\\ud800": 1}',
)
BAD_CATEGORIES: Final = (
    "[]",
    '["a", "b"]',
    '{"a": -5}',
    '{"a": 1e400}',
    '{"a": NaN}',
    '{"a": "x"}',
    '{"a": {"b": 1}}',
    '{"a": null}',
    '{"a": 99999999999999999999999999}',
    "{" + ",".join(f'"c{i}": {i}' for i in range(20_000)) + "}",
    '{"a":' * 2000 + "1" + "}" * 2000,
    "{",
    "",
    "null",
    '{"\\ud800": 3}',
)


def _copy(request: Request) -> Request:
    out = Request()
    out.CopyFrom(request)
    return out


def _summary_events(request: Request) -> list[trace_pb2.Span.Event]:
    return [e for span in spans_of(request) for e in span.events if e.name == FEATURE_SUMMARY]


def _find(attributes: object, key: str) -> common_pb2.KeyValue | None:
    for kv in attributes:  # type: ignore[attr-defined]
        if kv.key == key:
            found: common_pb2.KeyValue = kv
            return found
    return None


def _set(attributes: object, key: str, value: common_pb2.AnyValue) -> None:
    kv = _find(attributes, key)
    if kv is None:
        attributes.add(key=key, value=value)  # type: ignore[attr-defined]
    else:
        kv.value.CopyFrom(value)


def _text(value: str) -> common_pb2.AnyValue:
    return common_pb2.AnyValue(string_value=value)


def wrong_value(rng: random.Random) -> tuple[str, common_pb2.AnyValue]:
    """A value of a random type, often an extreme one."""
    choices: list[tuple[str, common_pb2.AnyValue]] = [
        ("int", common_pb2.AnyValue(int_value=rng.choice((-(2**63), -1, 0, 2**63 - 1)))),
        (
            "double",
            common_pb2.AnyValue(double_value=rng.choice((float("nan"), float("inf"), -0.0, 1e308))),
        ),
        ("bool", common_pb2.AnyValue(bool_value=rng.random() < 0.5)),
        ("bytes", common_pb2.AnyValue(bytes_value=rng.randbytes(rng.randint(0, 40)))),
        ("empty", common_pb2.AnyValue()),
        ("string", _text(rng.choice(("", "x" * 100_000, "\x00", "é" * 10, "NaN", "-1")))),
    ]
    array = common_pb2.AnyValue()
    array.array_value.values.extend([choices[0][1], choices[5][1], common_pb2.AnyValue()])
    kvlist = common_pb2.AnyValue()
    kvlist.kvlist_value.values.add(key="k", value=choices[1][1])
    choices += [("array", array), ("kvlist", kvlist)]
    return rng.choice(choices)


def wrong_types(rng: random.Random, request: Request) -> tuple[str, Request]:
    """One to all ``mlspan.*`` attributes of a span or summary event get another type."""
    out = _copy(request)
    events = _summary_events(out)
    if events and rng.random() < 0.5:
        attributes = rng.choice(events).attributes
    else:
        attributes = rng.choice(spans_of(out)).attributes
    keys = [kv.key for kv in attributes if kv.key.startswith(PREFIX)]
    if not keys:
        return "wrong_types:none", out
    chosen = keys if rng.random() < 0.2 else [rng.choice(keys)]
    label = ""
    for key in chosen:
        label, value = wrong_value(rng)
        _set(attributes, key, value)
    return f"wrong_types:{chosen[0] if len(chosen) == 1 else 'all'}:{label}", out


def corrupt_sketch(rng: random.Random, request: Request) -> tuple[str, Request]:
    """A summary's sketch corrupted behind a valid header (base64 intact), or not
    base64 at all."""
    out = _copy(request)
    events = _summary_events(out)
    if not events:
        return "corrupt_sketch:none", out
    for event in rng.sample(events, rng.randint(1, min(3, len(events)))):
        kv = _find(event.attributes, semconv.SUMMARY_SKETCH)
        valid = base64.b64decode(kv.value.string_value) if kv is not None else b""
        if not valid:
            # A categorical summary without a sketch: borrow a KLL preamble.
            valid = bytes.fromhex("05010f00c80008008813000000000000c8000500")
        if rng.random() < 0.1:
            name, text = "not_base64", rng.choice(("!!!", "AAA", "Zm9v\x00", "é"))
        else:
            name, broken = corrupt(rng, valid)
            text = base64.b64encode(broken).decode()
        _set(event.attributes, semconv.SUMMARY_SKETCH, _text(text))
    return f"corrupt_sketch:{name}", out


def bad_summary_fields(rng: random.Random, request: Request) -> tuple[str, Request]:
    """Category tables, counts, moments, kinds and sketch types that contradict
    themselves or overflow."""
    out = _copy(request)
    events = _summary_events(out)
    if not events:
        return "bad_summary:none", out
    event = rng.choice(events)
    which = rng.randrange(5)
    if which == 0:
        _set(event.attributes, semconv.SUMMARY_CATEGORIES, _text(rng.choice(BAD_CATEGORIES)))
        return "bad_summary:categories", out
    if which == 1:
        for key in (semconv.SUMMARY_COUNT, semconv.SUMMARY_NULLS, semconv.SUMMARY_NAN):
            value = rng.choice((-1, 0, 2**63 - 1, -(2**63)))
            _set(event.attributes, key, common_pb2.AnyValue(int_value=value))
        return "bad_summary:counts", out
    if which == 2:
        for key in (
            semconv.SUMMARY_MIN,
            semconv.SUMMARY_MAX,
            semconv.SUMMARY_MEAN,
            semconv.SUMMARY_M2,
        ):
            number = rng.choice((float("nan"), float("inf"), float("-inf"), 1e308, -1e308))
            _set(event.attributes, key, common_pb2.AnyValue(double_value=number))
        return "bad_summary:moments", out
    if which == 3:
        kind = rng.choice(("numerical", "categorical", "", "text", "numerical\x00"))
        _set(event.attributes, semconv.FEATURE_KIND, _text(kind))
        return "bad_summary:kind", out
    sketch_type = rng.choice(
        ("kll_doubles:-1", "kll_doubles:0", "kll_doubles:99999999999", "kll:x", "", ":")
    )
    _set(event.attributes, semconv.SUMMARY_SKETCH_TYPE, _text(sketch_type))
    return "bad_summary:sketch_type", out


def absurd_times(rng: random.Random, request: Request) -> tuple[str, Request]:
    """Span and event timestamps at or past 2^63, zero, or ending before they start."""
    out = _copy(request)
    span = rng.choice(spans_of(out))
    span.start_time_unix_nano = rng.choice(ABSURD_TIMES)
    span.end_time_unix_nano = rng.choice(ABSURD_TIMES)
    for event in span.events:
        event.time_unix_nano = rng.choice(ABSURD_TIMES)
    return "absurd_times", out


def bad_params(rng: random.Random, request: Request) -> tuple[str, Request]:
    """``mlspan.model.params`` with NaN, infinities, deep nesting or not JSON."""
    out = _copy(request)
    index = rng.randrange(len(BAD_PARAMS))
    span = rng.choice(spans_of(out))
    _set(span.attributes, semconv.MODEL_PARAMS, _text(BAD_PARAMS[index]))
    return f"bad_params:{index}", out


def bad_lineage(rng: random.Random, request: Request) -> tuple[str, Request]:
    """Lineage arrays that are huge, empty, hold non-strings, or ids that are huge."""
    out = _copy(request)
    span = rng.choice(spans_of(out))
    key = rng.choice((semconv.IO_INPUTS, semconv.IO_OUTPUTS))
    value = common_pb2.AnyValue()
    which = rng.randrange(4)
    if which == 0:
        value.array_value.values.extend(_text(f"data:{i:032x}") for i in range(10_000))
    elif which == 1:
        value.array_value.values.extend([_text(""), common_pb2.AnyValue(int_value=5)])
    elif which == 2:
        value.array_value.values.extend([_text("data:" + "f" * 200_000)])
    else:
        value.array_value.values.extend([_text("x")] * 500)
    _set(span.attributes, key, value)
    return f"bad_lineage:{which}", out


MLSPAN_MUTATORS: Final[dict[str, MlspanMutator]] = {
    "wrong_types": wrong_types,
    "corrupt_sketch": corrupt_sketch,
    "bad_summary_fields": bad_summary_fields,
    "absurd_times": absurd_times,
    "bad_params": bad_params,
    "bad_lineage": bad_lineage,
}
