"""The lineage CLI against a real ApiServer: trees, tables, --json, errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlspan.collector.cli.main import main
from mlspan.instrumentation.digest import digest_file
from tests.collector.lineage.served import Served, served_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "predictions.csv"
    path.write_text("id,score\n1,0.5\n")
    return path


@pytest.fixture
def api(tmp_path: Path, predictions: Path) -> Iterator[Served]:
    with served_pipeline(tmp_path / "store", digest_file(predictions)) as served:
        yield served


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_trace_prints_a_tree_with_warnings(api: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "trace", "out/predictions.csv", "--api", api.url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("(out/predictions.csv)")
    assert lines[1].startswith("└── run " + api.run_id("predict"))
    assert any(line.lstrip("│ ├└─").startswith("model:x:m1") for line in lines)
    assert any(f"run {api.run_id('load')}" in line for line in lines)
    assert lines[-1].startswith("warning: clean has a newer run")


def test_trace_of_a_local_file_uses_its_content_digest(
    api: Served, predictions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "trace", str(predictions), "--api", api.url, "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["root"]["matched_by"] == "id"
    assert answer["root"]["artifact"]["artifact_id"] == digest_file(predictions)


def test_impact_history_recent_show_tables(api: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "impact", "data:x:clean", "--api", api.url)
    assert code == 0 and "run " + api.run_id("train") in out
    code, out, _ = run(capsys, "history", "clean", "--api", api.url)
    rows = out.splitlines()
    assert rows[0] == "component clean"
    assert rows[1].split()[:2] == ["RUN", "STARTED"]
    assert [r.split()[0] for r in rows[2:]] == [api.run_id("clean2"), api.run_id("clean")]
    code, out, _ = run(capsys, "recent", "--limit", "2", "--api", api.url)
    assert out.splitlines()[-1].startswith("more: mlspan recent --cursor ")
    code, out, _ = run(capsys, "show", api.run_id("train"), "--api", api.url)
    assert code == 0
    assert "inputs:\n  data:x:clean  <- run " + api.run_id("clean") in out
    assert "warning: clean has a newer run" in out


def test_flag_review_tag_note_roundtrip(api: Served, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "flag", "out/predictions.csv", "--reason", "bad", "--api", api.url)[0] == 0
    code, out, _ = run(capsys, "review", "--api", api.url)
    assert code == 0 and out.startswith("1 flagged output(s)")
    assert out.splitlines()[1].split()[:2] == ["FLAGGED", "RUN"]
    code, out, _ = run(capsys, "review", "--api", api.url, "--json")
    assert {e["count"] for e in json.loads(out)["runs"]} == {1}
    code, out, _ = run(capsys, "unflag", "out/predictions.csv", "--api", api.url)
    assert out.startswith("unflagged ")
    code, out, _ = run(capsys, "tag", "component", "train", "prod", "--api", api.url)
    assert out.strip() == "component train tags: prod"
    code, out, _ = run(capsys, "note", "run", api.run_id("train"), "check recall", "--api", api.url)
    assert code == 0
    code, out, _ = run(capsys, "note", "run", api.run_id("train"), "--api", api.url)
    assert out.strip().endswith("check recall")


def test_unknown_reference_is_one_line_and_exit_1(
    api: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "show", "deadbeefdeadbeef", "--api", api.url)
    assert code == 1 and out == ""
    assert (
        err == "mlspan show: no run or artifact matches 'deadbeefdeadbeef' (tried run id, "
        "artifact id, file path or name, and id prefix)\n"
    )


def test_unreachable_collector_is_one_line_and_exit_1() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-m", "mlspan.collector.cli.main", "recent"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MLSPAN_API": f"http://127.0.0.1:{port}", "PATH": ""},
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"mlspan recent: cannot reach the collector at http://127.0.0.1:{port}"
    )
    assert result.stderr.count("\n") == 1
