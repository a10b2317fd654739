"""Code versions: which git commit and which source a component step ran.

A component span records ``mlspan.code.commit`` and ``mlspan.code.dirty`` when the
step's source file lives in a git work tree, and ``mlspan.code.digest`` (a digest of
the step function's source text) always.

The commit is read straight from the repository's files (``HEAD``, loose refs,
``packed-refs``, worktree ``gitdir`` links), so no process is spawned for it. Whether
the work tree is dirty needs git itself: ``git status --porcelain --untracked-files=no``
runs once per repository root, with ``GIT_OPTIONAL_LOCKS=0`` so it never takes the
index lock the user's own git commands need. Both answers are cached per repository
root inside a ``CodeVersions`` instance (no process-wide state): reuse one instance
for many calls, or create a new one to see commits made since.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import logging
import os
import re
import subprocess
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mlspan.instrumentation.digest import digest_bytes

logger = logging.getLogger(__name__)

CODE_KIND: Final = "code"
"""Kind part of a source digest: ``code:xxh3_128:<hex>``."""

STATUS_TIMEOUT_S: Final = 10.0
"""Longest wait for ``git status`` before the dirty flag is left unknown."""

_SHA: Final = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class GitState:
    """The commit checked out in one repository and whether the work tree differs."""

    root: Path
    commit: str | None
    dirty: bool | None


@dataclass(frozen=True)
class CodeVersion:
    """What a span records about the code of one step."""

    commit: str | None
    dirty: bool | None
    digest: str | None


def _git_dir(root: Path) -> Path | None:
    """The git directory of the work tree at ``root`` (``.git`` or a ``gitdir:`` link)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.removeprefix("gitdir:").strip())
            return target if target.is_absolute() else (root / target).resolve()
    return None


def _common_dir(git_dir: Path) -> Path:
    """Where shared refs live: a linked worktree names it in its ``commondir`` file."""
    link = git_dir / "commondir"
    if link.is_file():
        target = Path(link.read_text(encoding="utf-8").strip())
        return target if target.is_absolute() else (git_dir / target).resolve()
    return git_dir


def _packed_ref(common: Path, ref: str) -> str | None:
    packed = common / "packed-refs"
    if not packed.is_file():
        return None
    for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("#", "^")):
            continue
        sha, _, name = line.partition(" ")
        if name.strip() == ref:
            return sha
    return None


def read_commit(root: Path) -> str | None:
    """The commit ``HEAD`` points to in the work tree at ``root``, without running git.

    None for a repository without commits or a layout this reader does not know
    (for example a reftable repository).
    """
    git_dir = _git_dir(root)
    if git_dir is None:
        return None
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    for _ in range(5):  # symbolic refs may chain; git itself caps the depth too
        if not head.startswith("ref:"):
            break
        ref = head.removeprefix("ref:").strip()
        common = _common_dir(git_dir)
        loose = next(
            (base / ref for base in (git_dir, common) if (base / ref).is_file()),
            None,
        )
        if loose is not None:
            head = loose.read_text(encoding="utf-8").strip()
            continue
        packed = _packed_ref(common, ref)
        if packed is None:
            return None
        head = packed
    return head if _SHA.match(head) else None


def read_dirty(root: Path, timeout_s: float = STATUS_TIMEOUT_S) -> bool | None:
    """Whether tracked files differ from ``HEAD`` (untracked files do not count).

    None when git is missing, refuses the repository or takes too long.
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("git status failed in %s: %s", root, exc)
        return None
    if done.returncode != 0:
        logger.debug("git status in %s exited with %d", root, done.returncode)
        return None
    return bool(done.stdout.strip())


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding a ``.git`` entry."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _code_of(function: Callable[..., Any]) -> types.CodeType | None:
    """The code object behind a function, a ``functools.partial`` or a callable object."""
    target: object = inspect.unwrap(function)
    if isinstance(target, functools.partial):
        target = inspect.unwrap(target.func)
    code = getattr(target, "__code__", None)
    if code is None and not inspect.isroutine(target):
        call = inspect.getattr_static(type(target), "__call__", None)
        code = getattr(call, "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _code_fallback_bytes(code: types.CodeType) -> bytes:
    """Bytecode and names of ``code`` and its nested functions, when source is missing."""
    parts = [code.co_code, repr(code.co_names).encode()]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            parts.append(_code_fallback_bytes(const))
        else:
            parts.append(repr(const).encode(errors="surrogatepass"))
    return b"\x1f".join(parts)


def _source_text(code: types.CodeType) -> str:
    """The source of a function body, or of the whole file for module-level code."""
    if code.co_name == "<module>":
        linecache.checkcache(code.co_filename)
        lines = linecache.getlines(code.co_filename)
        if not lines:
            raise OSError(f"no source for {code.co_filename}")
        return "".join(lines)
    return inspect.getsource(code)


def source_digest(code: types.CodeType) -> str:
    """``code:xxh3_128:<hex>`` of the source text of ``code`` (bytecode if no source)."""
    try:
        text = _source_text(code)
        return digest_bytes(text.encode("utf-8", errors="surrogatepass"), CODE_KIND)
    except (OSError, TypeError, SyntaxError):
        return digest_bytes(_code_fallback_bytes(code), CODE_KIND)


class CodeVersions:
    """Resolves and caches code versions: git state per repository root, source
    digests per code object. Thread-safe; one instance is meant to serve many calls."""

    def __init__(
        self,
        *,
        check_dirty: bool = True,
        read_dirty: Callable[[Path], bool | None] = read_dirty,
    ) -> None:
        self._check_dirty = check_dirty
        self._read_dirty = read_dirty
        self._lock = threading.Lock()
        self._roots: dict[Path, Path | None] = {}
        self._states: dict[Path, GitState] = {}
        self._digests: dict[tuple[types.CodeType, str], str | None] = {}

    def for_function(self, function: Callable[..., Any]) -> CodeVersion:
        """The version of a step function: its source digest and its repository."""
        code = _code_of(function)
        if code is None:
            return CodeVersion(commit=None, dirty=None, digest=None)
        return self.for_code(code)

    def for_code(self, code: types.CodeType) -> CodeVersion:
        """The version of the code object ``code`` (a function body or a module)."""
        state = self.git_state(Path(code.co_filename))
        digest = self._digest(code)
        if state is None:
            return CodeVersion(commit=None, dirty=None, digest=digest)
        return CodeVersion(commit=state.commit, dirty=state.dirty, digest=digest)

    def git_state(self, source_file: Path) -> GitState | None:
        """The git state of the repository holding ``source_file``, None outside git."""
        directory = source_file.parent
        with self._lock:
            if directory in self._roots:
                root = self._roots[directory]
                return None if root is None else self._states.get(root)
        root = None
        if not source_file.name.startswith("<"):  # "<stdin>", "<string>": no file
            try:
                resolved = directory.resolve()  # a relative name is relative to the cwd
                root = find_root(resolved) if resolved.is_dir() else None
            except OSError as exc:
                logger.debug("cannot look for a repository above %s: %s", directory, exc)
        state = None if root is None else self._state(root)
        with self._lock:
            self._roots[directory] = root
        return state

    def _state(self, root: Path) -> GitState:
        with self._lock:
            known = self._states.get(root)
        if known is not None:
            return known
        try:
            commit = read_commit(root)
        except OSError as exc:
            logger.debug("cannot read the commit of %s: %s", root, exc)
            commit = None
        dirty = self._read_dirty(root) if self._check_dirty and commit is not None else None
        state = GitState(root=root, commit=commit, dirty=dirty)
        with self._lock:
            return self._states.setdefault(root, state)

    def _digest(self, code: types.CodeType) -> str | None:
        # Code objects compare by content but not by file name: key on both.
        key = (code, code.co_filename)
        with self._lock:
            if key in self._digests:
                return self._digests[key]
        digest = source_digest(code)
        with self._lock:
            self._digests[key] = digest
        return digest
