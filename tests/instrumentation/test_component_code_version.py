"""Code versions of components: git commit/dirty inside a repository, source digests."""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import types
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mlspan.instrumentation.code_version import CODE_KIND, CodeVersions, find_root, read_commit
from mlspan.instrumentation.digest import digest_bytes
from mlspan.semconv import CODE_COMMIT, CODE_DIGEST, CODE_DIRTY
from tests.instrumentation import component_spans

recording = component_spans.recording
provider = component_spans.provider
exporter = component_spans.exporter

STEP_MODULE = """
from mlspan.instrumentation.component import component


def build(provider, versions):
    @component("step", tracer_provider=provider, code_versions=versions)
    def step(x):
        return x + {increment}

    return step


def block(provider, versions):
    with component("block", tracer_provider=provider, code_versions=versions):
        return {increment}
"""


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_step(directory: Path, increment: int, name: str = "steps.py") -> Path:
    path = directory / name
    path.write_text(STEP_MODULE.format(increment=increment), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pipeline").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write_step(root / "pipeline", 1)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def run_steps(
    module: types.ModuleType, provider: TracerProvider, exporter: InMemorySpanExporter
) -> list[dict[str, object]]:
    versions = CodeVersions()
    exporter.clear()
    module.build(provider, versions)(1)
    module.block(provider, versions)
    return [dict(span.attributes or {}) for span in exporter.get_finished_spans()]


def test_commit_and_clean_state_are_recorded_inside_a_repository(
    repo: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    module = load(repo / "pipeline" / "steps.py", "steps_in_repo")
    head = git(repo, "rev-parse", "HEAD")
    for attributes in run_steps(module, provider, exporter):
        assert attributes[CODE_COMMIT] == head
        assert attributes[CODE_DIRTY] is False
        assert str(attributes[CODE_DIGEST]).startswith("code:xxh3_128:")


def test_uncommitted_changes_mark_the_code_dirty(
    repo: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    write_step(repo / "pipeline", 2)
    module = load(repo / "pipeline" / "steps.py", "steps_dirty")
    for attributes in run_steps(module, provider, exporter):
        assert attributes[CODE_COMMIT] == git(repo, "rev-parse", "HEAD")
        assert attributes[CODE_DIRTY] is True


def test_no_commit_outside_a_repository(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    assert find_root(tmp_path) is None
    module = load(write_step(tmp_path, 1), "steps_outside")
    for attributes in run_steps(module, provider, exporter):
        assert CODE_COMMIT not in attributes
        assert CODE_DIRTY not in attributes
        assert str(attributes[CODE_DIGEST]).startswith("code:xxh3_128:")


def test_the_source_digest_follows_the_source(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    first = run_steps(load(write_step(tmp_path, 1, "a.py"), "steps_a"), provider, exporter)
    same = run_steps(load(write_step(tmp_path, 1, "b.py"), "steps_b"), provider, exporter)
    changed = run_steps(load(write_step(tmp_path, 5, "c.py"), "steps_c"), provider, exporter)
    digests = [[attributes[CODE_DIGEST] for attributes in run] for run in (first, same, changed)]
    assert digests[0] == digests[1]  # same text, same digest, wherever it lives
    assert digests[2][0] != digests[0][0]  # the decorated function changed
    assert digests[2][1] != digests[0][1]  # the function holding the with-block changed
    assert digests[0][0] != digests[0][1]


def test_commits_are_read_from_packed_refs_worktrees_and_detached_heads(
    repo: Path, tmp_path: Path
) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert read_commit(repo) == head

    (repo / "README").write_text("second\n", encoding="utf-8")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "second")
    second = git(repo, "rev-parse", "HEAD")
    assert second != head
    assert read_commit(repo) == second

    git(repo, "checkout", "-q", "--detach", head)
    assert read_commit(repo) == head

    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(linked), "main")
    assert (linked / ".git").is_file()
    assert read_commit(linked) == second
    state = CodeVersions().git_state(linked / "pipeline" / "steps.py")
    assert state is not None
    assert (state.root, state.commit, state.dirty) == (linked, second, False)


def test_a_repository_without_commits_has_no_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert read_commit(tmp_path) is None
    assert CodeVersions().git_state(tmp_path / "x.py") is not None


SCRIPT_MODULE = """
from mlspan.instrumentation.component import component

with component("script", tracer_provider=provider, code_versions=versions):
    total = {value}

# a line far below the block: part of the script's source all the same
"""


def test_a_module_level_block_digests_the_whole_script(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    digests = []
    for index, text in enumerate(
        [SCRIPT_MODULE.format(value=1), SCRIPT_MODULE.format(value=1) + "extra = 2\n"]
    ):
        path = tmp_path / f"script{index}.py"
        path.write_text(text, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"script{index}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        module.provider = provider  # type: ignore[attr-defined]
        module.versions = CodeVersions()  # type: ignore[attr-defined]
        spec.loader.exec_module(module)
        digests.append(exporter.get_finished_spans()[-1].attributes[CODE_DIGEST])  # type: ignore[index]
        assert digests[-1] == source_digest_of_text(text)
    assert digests[0] != digests[1]


def source_digest_of_text(text: str) -> str:
    return digest_bytes(text.encode(), CODE_KIND)


class Scorer:
    def __call__(self, x: int) -> int:
        return x


def add(x: int, y: int) -> int:
    return x + y


def test_partials_and_callable_objects_have_source_digests() -> None:
    versions = CodeVersions(read_dirty=lambda root: False)
    partial = functools.partial(add, 1)
    assert versions.for_function(partial).digest == versions.for_function(add).digest
    assert (
        versions.for_function(Scorer()).digest == versions.for_code(Scorer.__call__.__code__).digest
    )
    assert versions.for_function(Scorer()).digest is not None
    assert versions.for_function(len).digest is None  # builtins have no code object


def test_code_without_a_file_has_a_digest_but_no_repository(repo: Path) -> None:
    code = compile("total = 1 + 1\n", "<string>", "exec")
    version = CodeVersions().for_code(code)
    assert version.commit is None and version.dirty is None
    assert str(version.digest).startswith("code:xxh3_128:")
    relative = CodeVersions().git_state(Path(os.path.relpath(repo / "pipeline" / "steps.py")))
    assert relative is not None and relative.root == repo
