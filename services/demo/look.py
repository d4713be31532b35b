"""Where to look once the shop is filled: a few numbers read back through the same public APIs,
each with the address that shows the rest."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from services.demo.client import PulseApi


@dataclass
class Sights:
    at_risk: list[dict] = field(default_factory=list)  # high tier, stage at_risk, best CLV first
    at_risk_names: dict[str, str] = field(default_factory=dict)
    open_alerts: Counter = field(default_factory=Counter)
    breached_complaints: int = 0
    report: dict = field(default_factory=dict)


async def gather_sights(api: PulseApi, start: datetime, end: datetime) -> Sights:
    sights = Sights()
    sights.at_risk = await api.all_pages("scoring", "/v1/scores", {"tier": "high", "stage": "at_risk", "order_by": "clv"})
    for item in sights.at_risk[:5]:
        customer = await api.json("profiles", "GET", f"/v1/customers/{item['customer_id']}")
        sights.at_risk_names[item["customer_id"]] = customer.get("name") or item["customer_id"]
    sights.open_alerts = Counter(a["kind"] for a in await api.all_pages("alerts", "/v1/alerts", {"status": "open"}))
    sights.breached_complaints = len(await api.all_pages("feedback", "/v1/complaints", {"breached": "true"}))
    sights.report = await api.json("scoring", "GET", "/v1/reports/summary", params={"from": start.isoformat(), "to": end.isoformat()})
    return sights


def describe(sights: Sights, urls: dict[str, str], start: datetime, end: datetime) -> list[str]:
    """The lines printed at the end, in Chinese retail terms where the numbers are the business's."""
    report = sights.report
    sales, complaints, surveys = report.get("sales", {}), report.get("complaints", {}), report.get("surveys", {})
    lines = [f"High-value customers at risk (高价值流失风险客户): {len(sights.at_risk)}"]
    for item in sights.at_risk[:5]:
        clv = f"{item['clv']:,.0f}" if item.get("clv") is not None else "-"
        p_alive = f"{item['p_alive']:.2f}" if item.get("p_alive") is not None else "-"
        lines.append(f"  {sights.at_risk_names.get(item['customer_id'], '')}  CLV ¥{clv}  p_alive {p_alive}  {item['customer_id']}")
    lines.append(f"  {urls['scoring']}/v1/scores?tier=high&stage=at_risk")
    alerts = ", ".join(f"{kind} {n}" for kind, n in sights.open_alerts.most_common()) or "none yet"
    lines += [f"Open alerts (待处理预警): {sum(sights.open_alerts.values())} ({alerts})", f"  {urls['alerts']}/v1/alerts?status=open"]
    compliance = complaints.get("sla_compliance")
    lines += [f"Complaints (投诉): {complaints.get('opened', 0)} opened, {complaints.get('resolved', 0)} resolved, "
              f"SLA compliance of the resolved {'-' if compliance is None else f'{100 * compliance:.0f} %'}, {sights.breached_complaints} breached so far",
              f"  {urls['feedback']}/v1/complaints?breached=true"]
    nps = surveys.get("nps", {})
    lines += [f"Period report (工作总结): revenue ¥{sales.get('revenue', 0):,.0f}, {sales.get('orders', 0):,} orders, "
              f"repeat rate {_percent(sales.get('repeat_purchase_rate'))}, NPS {_number(nps.get('score'))} ({nps.get('count', 0)} answers)",
              f"  {urls['scoring']}/v1/reports/summary?from={start.date()}T00:00:00Z&to={end.date()}T23:59:59Z (Accept: text/csv for a sheet)"]
    return lines


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def _number(value) -> str:
    return "-" if value is None else f"{value:.0f}"
