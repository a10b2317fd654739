"""How experiments are declared: the ``processors.experiments`` section and API bodies.

Example (collector YAML)::

    processors:
      experiments:
        experiments:
          - name: churn-v4
            metric: accuracy                 # accuracy, error_rate or mae
            minimum_detectable_effect: 0.01  # in the metric's units: 1 point of accuracy
            alpha: 0.05
            control: v3
            arms:
              - {name: v3, version: "churn v3", share: 0.5}   # NAME vN or a digest
              - {name: v4, version: "churn v4", share: 0.5}

Arms name a model version (``NAME vN`` as the model registry numbers them, or the
version digest ``model:xxh3_128:...``), or no version: membership then comes from the
``mlspan.experiment.arm`` attribute the application's router sets. All arms of one
experiment are declared the same way. ``POST /api/v1/experiments`` takes the same
fields as JSON and is checked by the same code.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Final

from mlspan.collector.experiments.metrics import METRICS
from mlspan.collector.pipeline.factory import ConfigError, parse_dataclass

NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
"""Experiment and arm names: they appear in URLs, metric labels and alert labels."""
MAX_ARMS: Final = 10
"""Most arms of one experiment (a control and nine challengers)."""
STATE_FILE: Final = "experiments.sqlite"


@dataclass(frozen=True)
class ArmConfig:
    """One arm: its name, the model version it serves (if declared by version) and its
    designed share of the traffic."""

    name: str
    version: str = ""
    """``NAME vN`` (the registry's numbering) or a model version digest; empty: the arm
    is whatever spans say with ``mlspan.experiment.arm`` equal to ``name``."""
    share: float = 0.0
    """Designed share of the traffic; 0 for every arm means equal shares."""

    def validate(self) -> None:
        """Check the name, the version text and the share."""
        if not NAME.match(self.name):
            raise ConfigError(f"name: '{self.name}' must match {NAME.pattern}")
        if len(self.version) > 512:
            raise ConfigError("version: longer than 512 characters")
        if not math.isfinite(self.share) or self.share < 0:
            raise ConfigError(f"share: must be finite and >= 0, got {self.share}")


@dataclass(frozen=True)
class ExperimentConfig:
    """One A/B/n experiment."""

    name: str
    arms: tuple[ArmConfig, ...]
    control: str = ""
    """Name of the control arm; empty: the first arm."""
    metric: str = "accuracy"
    minimum_detectable_effect: float = 0.01
    """The smallest difference worth detecting, in the metric's units (0.01 = one point
    of accuracy). Tunes the sequential test and sizes the sample-size estimate."""
    alpha: float = 0.05
    """Family-wise false-positive rate over the experiment's comparisons, at any look."""
    power: float = 0.8
    """Power of the fixed-horizon sample-size estimate."""
    service: str = ""
    """Only spans of this service count; empty: every service."""
    start: float = 0.0
    """Unix seconds: outcomes of predictions before this time do not count (0: none
    excluded)."""
    end: float = 0.0
    """Unix seconds: outcomes of predictions from this time on do not count (0: open)."""
    min_outcomes_per_arm: int = 100
    """No decision before every arm has this many outcomes."""

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first wrong field."""
        if not NAME.match(self.name):
            raise ConfigError(f"name: '{self.name}' must match {NAME.pattern}")
        if not 2 <= len(self.arms) <= MAX_ARMS:
            raise ConfigError(f"arms: between 2 and {MAX_ARMS} arms, got {len(self.arms)}")
        names = [arm.name for arm in self.arms]
        if len(set(names)) != len(names):
            raise ConfigError("arms: an arm name is used twice")
        if self.control and self.control not in names:
            raise ConfigError(f"control: '{self.control}' is not an arm ({', '.join(names)})")
        versions = [arm.version for arm in self.arms]
        if any(versions) and not all(versions):
            raise ConfigError("arms: declare every arm by version or none (then by arm name)")
        if all(versions) and len(set(versions)) != len(versions):
            raise ConfigError("arms: two arms name the same model version")
        shares = [arm.share for arm in self.arms]
        if any(shares) and not all(shares):
            raise ConfigError("arms: give every arm a share, or none (equal shares)")
        if self.metric not in METRICS:
            raise ConfigError(f"metric: '{self.metric}' is not one of {', '.join(METRICS)}")
        mde = self.minimum_detectable_effect
        if not math.isfinite(mde) or mde <= 0:
            raise ConfigError(f"minimum_detectable_effect: must be positive, got {mde}")
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"alpha: must lie in (0, 0.5), got {self.alpha}")
        if not 0 < self.power < 1:
            raise ConfigError(f"power: must lie in (0, 1), got {self.power}")
        for key in ("start", "end"):
            value = getattr(self, key)
            if not math.isfinite(value) or not 0 <= value < 1e11:
                raise ConfigError(f"{key}: Unix seconds in [0, 1e11), got {value}")
        if self.end and self.end <= self.start:
            raise ConfigError("end: must be after start")
        if self.min_outcomes_per_arm < 2:
            raise ConfigError("min_outcomes_per_arm: must be at least 2")
        if len(self.service) > 256:
            raise ConfigError("service: longer than 256 characters")

    @property
    def control_arm(self) -> str:
        """The control arm's name."""
        return self.control or self.arms[0].name

    @property
    def by_version(self) -> bool:
        """Whether arms are model versions (else explicit arm names)."""
        return bool(self.arms[0].version)

    def shares(self) -> list[float]:
        """Designed shares per arm, in arm order, summing to 1."""
        raw = [arm.share for arm in self.arms]
        if not any(raw):
            return [1.0 / len(raw)] * len(raw)
        total = sum(raw)
        return [share / total for share in raw]

    def to_json(self) -> dict[str, Any]:
        """The declaration as JSON (what the API returns and the store keeps)."""
        return dataclasses.asdict(self)


def parse_experiment(raw: Any, where: str = "experiment") -> ExperimentConfig:
    """Build and check one experiment from a mapping; raises ``ConfigError``."""
    return parse_dataclass(ExperimentConfig, raw, where)


@dataclass(frozen=True)
class ExperimentsConfig:
    """The ``processors.experiments`` section."""

    experiments: tuple[ExperimentConfig, ...] = ()
    """Experiments declared here; more can be declared with ``POST
    /api/v1/experiments`` (those are kept in the data folder)."""
    persist: bool = True
    """Keep declarations and per-arm totals in ``experiments.sqlite`` in the data folder."""
    max_experiments: int = 100
    """Most experiments held (configured and declared by API together)."""

    def validate(self) -> None:
        """Unique names within the cap."""
        names = [experiment.name for experiment in self.experiments]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ConfigError(f"experiments: name '{duplicate}' is used twice")
        if self.max_experiments < 1:
            raise ConfigError(f"max_experiments: must be at least 1, got {self.max_experiments}")
        if len(names) > self.max_experiments:
            raise ConfigError(f"experiments: more than max_experiments ({self.max_experiments})")
