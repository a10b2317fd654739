"""Model pages: the registry's models, a model's versions table, a diff between two
versions, and the A/B/n experiments with their verdicts. They render the same answers
the ``/api/v1/models`` and ``/api/v1/experiments`` routes give."""

from __future__ import annotations

from typing import Any

from mlspan.collector.api.router import BadRequestError, NotFoundError, Request, Response
from mlspan.collector.ui.page import Pages


class ModelPages(Pages):
    """``/ui/models``, ``/ui/models/{name}``, ``/ui/models/{name}/diff`` and
    ``/ui/experiments``."""

    def _queries(self) -> Any:
        registry = self.sources.models()
        if registry is None:
            raise NotFoundError("the models processor is not running on this collector")
        from mlspan.collector.models.queries import ModelQueries

        return ModelQueries(registry, self.sources.queries.store, self.sources.performance)

    def _answer(self, work: Any) -> Any:
        from mlspan.collector.models.registry import AmbiguousModelError, UnknownModelError

        try:
            return work()
        except UnknownModelError as exc:
            raise NotFoundError(str(exc)) from None
        except AmbiguousModelError as exc:
            raise BadRequestError(str(exc)) from None

    def models(self, request: Request) -> Response:
        """Every model with its versions, latest and best version and stage tags."""
        running = self.sources.models() is not None
        listed = self._answer(lambda: self._queries().models())["models"] if running else []
        return self.render("models.html", title="Models", running=running, models=listed)

    def model(self, request: Request) -> Response:
        """A model's versions: parameters, training data, metrics, tags, serving."""
        name, service = request.path_params["name"], request.params.get("service") or None
        answer = self._answer(lambda: self._queries().model(name, service))
        return self.render("model.html", title=f"Model {answer['model']}", model=answer)

    def diff(self, request: Request) -> Response:
        """Two versions side by side: parameters, data, code, metrics."""
        from mlspan.collector.models.diff import diff

        name, service = request.path_params["name"], request.params.get("service") or None
        a, b = request.params["a"], request.params["b"]
        answer = self._answer(lambda: diff(self._queries(), name, a, b, service))
        return self.render(
            "model_diff.html",
            title=f"{name}: {a} vs {b}",
            name=name,
            service=service or "",
            answer=answer,
        )

    def experiments(self, request: Request) -> Response:
        """Every experiment: arms, comparisons and verdict."""
        processor = self.sources.experiments()
        results: list[Any] = []
        if processor is not None:
            from mlspan.collector.experiments.results import result_json

            results = [result_json(result) for result in processor.results()]
        return self.render(
            "experiments.html",
            title="Experiments",
            running=processor is not None,
            experiments=results,
        )
