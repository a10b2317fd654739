"""Artifact ids of a component's inputs and outputs.

What a value declared with ``add_input``/``add_output`` (or named in ``inputs=`` /
``outputs=``) becomes in ``mlspan.io.inputs``/``mlspan.io.outputs``:

=====================================  =================================================
value                                  artifact id
=====================================  =================================================
``ArtifactId("...")``                  the wrapped string, verbatim
``str`` shaped ``kind:algorithm:hex``  itself (an id copied from another span)
``str`` with a URI scheme (``s3://``)  itself: mlspan cannot read remote content
other ``str`` or ``os.PathLike``       ``file:xxh3_128:<hex>`` of the file's bytes
fitted estimator (``fit``+``get_params``)  its model version (``model:xxh3_128:<hex>``)
DataFrame, Series, ndarray, sparse,    ``data:xxh3_128:<hex>`` of the full content
list
=====================================  =================================================

Anything else, a missing file or an unreadable one yields an exception object instead
of an id; the component records it on its span and carries on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mlspan.instrumentation.digest import digest_data, digest_file
from mlspan.instrumentation.model_version import fitted_model_id

_ID_SHAPE: Final = re.compile(r"^[a-z][a-z0-9_]*:[a-z0-9_]+:[0-9a-f]{16,}$")
_URI_SHAPE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class ArtifactId:
    """An explicit artifact id, recorded as given: a table snapshot, a model registry
    entry, an id another system assigned. Use it for artifacts mlspan cannot read."""

    value: str

    def __str__(self) -> str:
        return self.value


class ArtifactError(ValueError):
    """A declared input or output that could not be turned into an artifact id."""


def looks_like_artifact_id(text: str) -> bool:
    """True for strings shaped like mlspan ids, ``<kind>:<algorithm>:<hex>``."""
    return _ID_SHAPE.match(text) is not None


def _is_estimator(value: object) -> bool:
    return (
        not isinstance(value, type)
        and callable(getattr(value, "fit", None))
        and callable(getattr(value, "get_params", None))
    )


def _file_id(path: Path, label: str) -> str | ArtifactError:
    try:
        if path.is_dir():
            return ArtifactError(f"{label}: {path} is a directory, not a file")
        return digest_file(path)
    except FileNotFoundError:
        return ArtifactError(f"{label}: file not found: {path}")
    except OSError as exc:
        return ArtifactError(f"{label}: cannot read {path}: {exc}")


def artifact_id(value: object, label: str) -> str | ArtifactError:
    """The artifact id of ``value``, or an error naming ``label`` (e.g. ``input 'raw'``)."""
    if isinstance(value, ArtifactId):
        if isinstance(value.value, str) and value.value.strip():
            return value.value
        return ArtifactError(f"{label}: an ArtifactId needs a non-empty string")
    if isinstance(value, str):
        if looks_like_artifact_id(value) or _URI_SHAPE.match(value):
            return value
        return _file_id(Path(value), label)
    if isinstance(value, os.PathLike):
        return _file_id(Path(os.fspath(value)), label)
    if _is_estimator(value):
        model_id = fitted_model_id(value)
        if model_id is None:
            return ArtifactError(f"{label}: cannot identify the model {type(value).__name__}")
        return model_id
    data_id = digest_data(value)
    if data_id is None:
        return ArtifactError(
            f"{label}: cannot identify a {type(value).__name__}; wrap an id in ArtifactId"
        )
    return data_id
