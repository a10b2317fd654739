"""``--service`` reaches the alerts API: firing alerts and their history filtered by the
service label, through the real router."""

from __future__ import annotations

import json

from mlspan.collector.alerts.model import Alert, AlertStatus
from mlspan.collector.alerts.routes import ALERTS_PATH, register_alert_routes
from mlspan.collector.api.router import Router


def alert(service: str, model: str, at: float) -> Alert:
    return Alert(
        name="FeatureDrift",
        severity="warning",
        status=AlertStatus.FIRING,
        labels={"service": service, "model": model, "feature": "age"},
        annotations={},
        insight=f"{service}/{model}: age drifted",
        starts_at=at,
    )


def test_alerts_are_filtered_by_service_and_model() -> None:
    firing = [alert("shop", "churn", 1.0), alert("bank", "churn", 2.0), alert("shop", "fraud", 3.0)]
    history = [alert("bank", "churn", float(i)) for i in range(5)] + firing
    router = Router()
    register_alert_routes(
        router,
        lambda: firing,
        lambda limit, model: [a for a in history if model is None or a.labels["model"] == model][
            -limit:
        ],
    )

    def about(query: str) -> tuple[list[str], list[str]]:
        response = router.dispatch("GET", f"{ALERTS_PATH}?{query}")
        assert response.status == 200
        body = json.loads(response.body)
        names = [f"{a['labels']['service']}/{a['labels']['model']}" for a in body["firing"]]
        past = [f"{a['labels']['service']}/{a['labels']['model']}" for a in body["history"]]
        return names, past

    assert about("service=shop") == (["shop/churn", "shop/fraud"], ["shop/churn", "shop/fraud"])
    assert about("service=shop&model=churn") == (["shop/churn"], ["shop/churn"])
    # The limit applies after the service filter: the bank's five older episodes do not
    # crowd the shop's out.
    assert about("service=shop&limit=2")[1] == ["shop/churn", "shop/fraud"]
    assert about("model=churn")[0] == ["shop/churn", "bank/churn"]
