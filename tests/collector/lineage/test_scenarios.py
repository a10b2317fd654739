"""Lineage scenarios from real OTLP bytes through the lineage processor into SQLite."""

from __future__ import annotations

from typing import Any

import pytest

from mlspan.collector.lineage import LineageQueries, UnknownReferenceError
from mlspan.semconv import CALL_ROLE
from tests.collector.lineage.conftest import Ingest
from tests.collector.lineage.otlp import DAY_NS, Pipeline, batch, sourced


def _run_components(result: dict[str, Any]) -> dict[str, int]:
    return {run["component"]: run["depth"] for run in result["runs"]}


def _artifact_ids(result: dict[str, Any]) -> list[str]:
    return [a["artifact_id"] for a in result["artifacts"]]


def test_ten_run_chain_traced_in_order(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    spans = [p.span(f"step{i}", [f"data:x:{i:04d}"], [f"data:x:{i + 1:04d}"]) for i in range(10)]
    ingest(batch("svc", spans))
    result = queries.trace("data:x:0010")
    assert _run_components(result) == {f"step{i}": 10 - i for i in range(10)}
    assert sorted(_artifact_ids(result)) == [f"data:x:{i:04d}" for i in range(11)]
    assert result["root"]["artifact"]["artifact_id"] == "data:x:0010"
    assert len(result["edges"]) == 20
    assert result["truncated"] is False
    limited = queries.trace("data:x:0010", max_depth=3)
    assert set(_run_components(limited)) == {"step9", "step8", "step7"}
    assert limited["truncated"] is True
    downstream = queries.impact("data:x:0000")
    assert _run_components(downstream) == {f"step{i}": i + 1 for i in range(10)}


def test_diamond_is_deduplicated(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    ingest(
        batch(
            "svc",
            [
                p.span("load", ["data:x:raw"], ["data:x:a"]),
                p.span("left", ["data:x:a"], ["data:x:b"]),
                p.span("right", ["data:x:a"], ["data:x:c"]),
                p.span("join", ["data:x:b", "data:x:c"], ["data:x:d"]),
            ],
        )
    )
    result = queries.trace("data:x:d")
    assert _run_components(result) == {"join": 1, "left": 2, "right": 2, "load": 3}
    ids = _artifact_ids(result)
    assert len(ids) == len(set(ids)) == 5
    edges = [(e["from"], e["to"]) for e in result["edges"]]
    assert len(edges) == len(set(edges))


def _has_cycle(edges: list[dict[str, str]]) -> bool:
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge["from"], []).append(edge["to"])
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1 or (nxt not in state and visit(nxt)):
                return True
        state[node] = 2
        return False

    return any(node not in state and visit(node) for node in list(graph))


def test_a_content_cycle_is_walked_in_time_order(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    first = p.span("a", ["data:x:y"], ["data:x:x"])
    later = p.span("b", ["data:x:x"], ["data:x:y"])  # made y again, after a had used it
    ingest(batch("svc", [first, later]))
    result = queries.trace("data:x:x")
    assert _run_components(result) == {"a": 1}  # b ran after a: not what a consumed
    assert sorted(_artifact_ids(result)) == ["data:x:x", "data:x:y"]
    assert _run_components(queries.trace("data:x:y")) == {"b": 1, "a": 2}
    downstream = queries.impact("data:x:x")
    assert _run_components(downstream) == {"b": 1}  # a ran before b made y
    for answer in (result, queries.trace("data:x:y"), downstream, queries.impact("data:x:y")):
        assert not _has_cycle(answer["edges"])


def test_a_frame_written_and_read_back_traces_without_a_loop(
    ingest: Ingest, queries: LineageQueries
) -> None:
    p = Pipeline()
    spans = [
        p.span("read_csv", ["file:x:raw"], ["data:x:raw"]),
        p.span("to_parquet", ["data:x:clean", "data:x:raw"], ["file:x:parquet"]),
        p.span("read_parquet", ["file:x:parquet"], ["data:x:clean"]),  # the same content
        p.span("fit", ["data:x:clean"], ["model:x:m"]),
        p.span("predict", ["data:x:clean", "model:x:m"], ["data:x:pred"]),
    ]
    ingest(batch("svc", spans))
    result = queries.trace("data:x:pred")
    assert set(_run_components(result)) == {
        "predict",
        "fit",
        "read_parquet",
        "to_parquet",
        "read_csv",
    }
    assert not _has_cycle(result["edges"])
    edges = {(e["from"], e["to"]) for e in result["edges"]}
    assert ("data:x:raw", spans[1].span_id.hex()) in edges
    assert ("data:x:clean", spans[1].span_id.hex()) not in edges  # would close the loop
    impact = queries.impact("file:x:parquet")
    assert set(_run_components(impact)) == {"read_parquet", "fit", "predict"}
    assert not _has_cycle(impact["edges"])


def test_rerun_of_versioned_computation(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    first = p.span("train", ["data:x:v1"], ["model:x:m1"])
    second = p.span("train", ["data:x:v2"], ["model:x:m2"])
    ingest(batch("svc", [first, second]))
    trace_one = queries.trace("model:x:m1")
    assert [r["run_id"] for r in trace_one["runs"]] == [first.span_id.hex()]
    assert _artifact_ids(trace_one) == ["model:x:m1", "data:x:v1"]
    trace_two = queries.trace("model:x:m2")
    assert [r["run_id"] for r in trace_two["runs"]] == [second.span_id.hex()]
    history = queries.history("train")
    assert [r["run_id"] for r in history["runs"]] == [second.span_id.hex(), first.span_id.hex()]


def test_two_writers_of_the_same_file(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    first = p.span("export_a", ["data:x:a"], ["file:x:old"], extra=sourced("out/report.csv"))
    second = p.span("export_b", ["data:x:b"], ["file:x:new"], extra=sourced("out/report.csv"))
    same_a = p.span("copy_a", ["data:x:c"], ["file:x:same"])
    same_b = p.span("copy_b", ["data:x:d"], ["file:x:same"])
    ingest(batch("svc", [first, second, same_a, same_b]))
    by_path = queries.trace("out/report.csv")
    assert by_path["root"]["matched_by"] == "name"
    assert by_path["root"]["artifact"]["artifact_id"] == "file:x:new"
    assert by_path["root"]["alternatives"] == ["file:x:old"]
    assert set(_run_components(by_path)) == {"export_b"}
    assert set(_run_components(queries.trace("file:x:old"))) == {"export_a"}
    # identical bytes written twice: both writers are producers of the one artifact
    assert _run_components(queries.trace("file:x:same")) == {"copy_a": 1, "copy_b": 1}


def test_two_branches_from_one_run(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    split = p.span("split", ["data:x:all"], ["data:x:train", "data:x:test"])
    ingest(
        batch(
            "svc",
            [
                split,
                p.span("fit", ["data:x:train"], ["model:x:m"]),
                p.span("evaluate", ["data:x:test", "model:x:m"], ["data:x:score"]),
                p.span("profile", ["data:x:test"], ["data:x:profile"]),
            ],
        )
    )
    impact = queries.impact(split.span_id.hex())
    assert _run_components(impact) == {"split": 0, "fit": 1, "evaluate": 1, "profile": 1}
    assert set(_artifact_ids(impact)) == {
        "data:x:train",
        "data:x:test",
        "model:x:m",
        "data:x:score",
        "data:x:profile",
    }
    assert _run_components(queries.trace("data:x:profile")) == {"profile": 1, "split": 2}


def test_out_of_order_arrival_links(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    parent = p.span("pipeline")
    producer = p.span("produce", ["data:x:in"], ["data:x:mid"], parent=parent)
    consumer = p.span("consume", ["data:x:mid"], ["data:x:out"], parent=parent)
    ingest(batch("svc", [consumer]))
    assert _run_components(queries.trace("data:x:out")) == {"consume": 1}
    ingest(batch("svc", [producer]))
    ingest(batch("svc", [parent]))
    assert _run_components(queries.trace("data:x:out")) == {"consume": 1, "produce": 2}
    shown = queries.show(parent.span_id.hex())
    assert [c["component"] for c in shown["children"]] == ["produce", "consume"]
    assert queries.show(consumer.span_id.hex())["parent"]["component"] == "pipeline"


def test_same_digest_links_across_services_and_traces(
    ingest: Ingest, queries: LineageQueries
) -> None:
    training = Pipeline(service="trainer", trace_id=b"\x0a" * 16)
    serving = Pipeline(service="server", trace_id=b"\x0b" * 16, first_id=1000)
    fit = training.span("fit", ["data:x:train"], ["model:x:m"])
    predict = serving.span("predict", ["model:x:m", "data:x:batch"], ["data:x:preds"])
    ingest(batch("server", [predict]), batch("trainer", [fit]))
    result = queries.trace("data:x:preds")
    services = {r["component"]: r["service"] for r in result["runs"]}
    assert services == {"predict": "server", "fit": "trainer"}
    traces = {r["trace_id"] for r in result["runs"]}
    assert traces == {"0a" * 16, "0b" * 16}


def test_flag_and_review_rank_shared_upstream_first(
    ingest: Ingest, queries: LineageQueries
) -> None:
    p = Pipeline()
    clean = p.span("clean", ["data:x:raw"], ["data:x:clean"])
    report_a = p.span("report_a", ["data:x:clean"], ["data:x:ra"])
    report_b = p.span("report_b", ["data:x:clean"], ["data:x:rb"])
    other = p.span("other", ["data:x:z"], ["data:x:rc"])
    ingest(batch("svc", [clean, report_a, report_b, other]))
    assert queries.flag("data:x:ra", "wrong totals")["flagged"] is True
    queries.flag("data:x:rb")
    queries.flag("data:x:rc")
    review = queries.review()
    assert review["flagged"] == 3
    ranked = [(r["run"]["component"], r["count"]) for r in review["runs"]]
    assert ranked[0] == ("clean", 2)
    assert sorted(ranked[1:]) == [("other", 1), ("report_a", 1), ("report_b", 1)]
    assert sorted(review["runs"][0]["flagged_outputs"]) == ["data:x:ra", "data:x:rb"]
    assert queries.flags()["flags"][0] == {
        "artifact_id": "data:x:ra",
        "reason": "wrong totals",
        "flagged_ns": queries.flags()["flags"][0]["flagged_ns"],
    }
    assert queries.unflag("data:x:rb")["flagged"] is False
    assert queries.review()["runs"][0]["count"] == 1


def test_staleness_by_age(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    old = p.span("features", ["data:x:raw"], ["data:x:feat"])
    p.now_ns += 45 * DAY_NS
    train = p.span("train", ["data:x:feat"], ["model:x:m"])
    ingest(batch("svc", [old, train]))
    warnings = queries.trace("model:x:m")["warnings"]
    assert [(w["reason"], w["component"]) for w in warnings] == [("old", "features")]
    assert warnings[0]["age_days"] == pytest.approx(45, abs=0.01)
    assert queries.show(train.span_id.hex())["warnings"] == warnings
    assert queries.trace("model:x:m", stale_after_days=60)["warnings"] == []


def test_staleness_by_newer_upstream_run(ingest: Ingest, queries: LineageQueries) -> None:
    p = Pipeline()
    features_v1 = p.span("features", ["data:x:raw1"], ["data:x:feat1"])
    train = p.span("train", ["data:x:feat1"], ["model:x:m"])
    features_v2 = p.span("features", ["data:x:raw2"], ["data:x:feat2"])
    ingest(batch("svc", [features_v1, train, features_v2]))
    warnings = queries.trace("model:x:m")["warnings"]
    assert [(w["reason"], w["run_id"], w["newer_run_id"]) for w in warnings] == [
        ("superseded", features_v1.span_id.hex(), features_v2.span_id.hex())
    ]
    assert queries.trace("data:x:feat2")["warnings"] == []


def _superseded(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(w["run_id"], w["newer_run_id"]) for w in result["warnings"]]


def test_staleness_compares_runs_of_the_same_service_only(
    ingest: Ingest, queries: LineageQueries
) -> None:
    """Two services each have a ``features`` component: they are different components."""
    ours = Pipeline(service="churn", first_id=1)
    theirs = Pipeline(service="fraud", trace_id=b"\x02" * 16, first_id=1000)
    features_v1 = ours.span("features", ["data:x:raw1"], ["data:x:feat1"])
    train = ours.span("train", ["data:x:feat1"], ["model:x:m"])
    theirs.now_ns = ours.now_ns + DAY_NS
    other = theirs.span("features", ["data:x:other"], ["data:x:other-feat"])
    ingest(batch("churn", [features_v1, train]), batch("fraud", [other]))
    assert queries.trace("model:x:m")["warnings"] == []
    assert queries.show(train.span_id.hex())["warnings"] == []
    features_v2 = ours.span("features", ["data:x:raw2"], ["data:x:feat2"])
    theirs.now_ns = ours.now_ns + DAY_NS
    newest_elsewhere = theirs.span("features", ["data:x:other2"], ["data:x:other-feat2"])
    ingest(batch("churn", [features_v2]), batch("fraud", [newest_elsewhere]))
    traced = queries.trace("model:x:m")
    assert _superseded(traced) == [(features_v1.span_id.hex(), features_v2.span_id.hex())]
    assert traced["warnings"][0]["service"] == "churn"
    assert _superseded(queries.show(train.span_id.hex())) == _superseded(traced)


def test_a_failed_run_that_produced_nothing_supersedes_nothing(
    ingest: Ingest, queries: LineageQueries
) -> None:
    p = Pipeline()
    features_v1 = p.span("features", ["data:x:raw1"], ["data:x:feat1"])
    train = p.span("train", ["data:x:feat1"], ["model:x:m"])
    failed = p.span("features", ["data:x:raw2"], [], error=True)
    ingest(batch("svc", [features_v1, train, failed]))
    assert queries.trace("model:x:m")["warnings"] == []
    # A later good run supersedes; a failure after it does not hide it.
    features_v2 = p.span("features", ["data:x:raw3"], ["data:x:feat3"])
    failed_again = p.span("features", ["data:x:raw4"], [], error=True)
    ingest(batch("svc", [features_v2, failed_again]))
    assert _superseded(queries.trace("model:x:m")) == [
        (features_v1.span_id.hex(), features_v2.span_id.hex())
    ]
    # A failed run that still wrote an output did produce something: it supersedes.
    partial = p.span("features", ["data:x:raw5"], ["data:x:feat5-partial"], error=True)
    ingest(batch("svc", [partial]))
    assert _superseded(queries.trace("model:x:m")) == [
        (features_v1.span_id.hex(), partial.span_id.hex())
    ]


def test_candidate_spans_make_no_runs_and_no_artifacts(
    ingest: Ingest, queries: LineageQueries
) -> None:
    """A search is one run; its candidates' spans (when a user asks for them) are not
    runs, so their fold data and candidate models are no artifacts. User and step spans,
    and spans without the attribute (older instrumentation), are runs as before."""
    p = Pipeline()
    search = p.span("search", ["data:x:train"], ["model:x:best"], extra={CALL_ROLE: "user"})
    candidates = [
        p.span(
            "search",
            ["data:x:train", f"data:x:fold{i}"],
            [f"model:x:candidate{i}"],
            parent=search,
            extra={CALL_ROLE: "candidate"},
        )
        for i in range(3)
    ]
    step = p.span(
        "scale", ["data:x:train"], ["data:x:scaled"], parent=search, extra={CALL_ROLE: "step"}
    )
    legacy = p.span("report", ["model:x:best"], ["data:x:report"])
    ingest(batch("svc", [search, *candidates, step, legacy]))
    recent = queries.recent(limit=10)["runs"]
    assert sorted(r["run_id"] for r in recent) == sorted(
        s.span_id.hex() for s in (search, step, legacy)
    )
    traced = queries.trace("data:x:report")
    assert [r["run_id"] for r in traced["runs"] if r["component"] == "search"] == [
        search.span_id.hex()
    ]
    assert {a["artifact_id"] for a in queries.impact("data:x:train")["artifacts"]} == {
        "data:x:train",
        "model:x:best",
        "data:x:scaled",
        "data:x:report",
    }
    for artifact in ("model:x:candidate0", "data:x:fold1"):
        with pytest.raises(UnknownReferenceError):
            queries.trace(artifact)
    assert [c["run_id"] for c in queries.show(search.span_id.hex())["children"]] == [
        step.span_id.hex()
    ]


def test_unknown_reference_raises_with_clear_message(queries: LineageQueries) -> None:
    with pytest.raises(UnknownReferenceError, match="no run or artifact matches 'nope'"):
        queries.trace("nope")
    with pytest.raises(UnknownReferenceError, match="no component named 'ghost'"):
        queries.history("ghost")
