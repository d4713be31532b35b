"""Alerts kept and changed: raised from a rule's candidate (at most one open per de-dup key, none
in a quiet period), acknowledged or resolved by a person or when the cause goes away. Every
change goes on `pulse.alerts` and to the webhooks that subscribe, in the same transaction."""

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts import dispatch
from services.alerts.context import AlertsContext
from services.alerts.metrics import AlertsMetrics
from services.alerts.models import Alert, AlertRuleVersion
from services.alerts.rules.config import RuleSet
from services.alerts.rules.decisions import Candidate
from services.common import catalog
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import add_events

EVENT_MODELS: dict[str, type[catalog.AlertEvent]] = {
    "churn_risk": catalog.ChurnRiskAlert, "follow_up_due": catalog.FollowUpDueAlert,
    "sla_warning": catalog.SlaWarningAlert, "sla_breached": catalog.SlaBreachedAlert,
    "detractor": catalog.DetractorAlert, "acknowledged": catalog.AlertAcknowledged, "resolved": catalog.AlertResolved,
}
# A threshold of a complaint's SLA is crossed once: these never open again, even after resolution.
ONCE_ONLY = {"sla_warning", "sla_breached"}
SYSTEM = "system"
RULES_KEY = "alerts.rules"
RAISED_KEY = "alerts.raised"  # (kind, severity) of each alert raised in the transaction
ALERTS = Alert.__table__


async def current_rules(session: AsyncSession) -> tuple[int, RuleSet]:
    """The newest stored version; version 0 is the built-in defaults, in force until a first PUT.
    Read once per transaction: a batch of 500 timers or events asks once."""
    if RULES_KEY not in session.info:
        row = await session.scalar(sa.select(AlertRuleVersion).order_by(AlertRuleVersion.version.desc()).limit(1))
        session.info[RULES_KEY] = (0, RuleSet()) if row is None else (row.version, RuleSet.model_validate(row.rules))
    return session.info[RULES_KEY]


async def save_rules(session: AsyncSession, rules: RuleSet, *, by: str, at: datetime) -> int:
    version, _ = await current_rules(session)
    session.add(AlertRuleVersion(version=version + 1, rules=rules.model_dump(mode="json"), created_at=at, created_by=by))
    await session.flush()
    session.info[RULES_KEY] = (version + 1, rules)
    return version + 1


async def raise_alert(session: AsyncSession, ctx: AlertsContext, candidate: Candidate, *, rule_version: int,
                      quiet_hours: float, detected_at: datetime) -> Alert | None:
    raised = await raise_alerts(session, ctx, [candidate], rule_version=rule_version, quiet_hours=quiet_hours,
                                detected_at=detected_at)
    return raised[0] if raised else None


async def raise_alerts(session: AsyncSession, ctx: AlertsContext, candidates: Sequence[Candidate], *, rule_version: int,
                       quiet_hours: float, detected_at: datetime) -> list[Alert]:
    """The alerts the candidates ask for, in bulk: one de-dup query, one insert of alerts, one of events
    (a timer pass raises hundreds in one transaction). An open alert of the same key, a quiet period
    or a once-only threshold already crossed stands in the way, also between candidates of one call."""
    if not candidates:
        return []
    latest = await _latest_by_key(session, {candidate.dedup_key for candidate in candidates})
    alerts = []
    for candidate in candidates:
        if _stands_in_the_way(latest.get(candidate.dedup_key), candidate, quiet_hours=quiet_hours, at=detected_at):
            continue
        alert = _new_alert(candidate, rule_version=rule_version, detected_at=detected_at)
        latest[candidate.dedup_key] = (alert.status, alert.created_at)
        alerts.append(alert)
    if alerts:
        await session.execute(sa.insert(ALERTS), [{column.name: getattr(alert, column.name) for column in ALERTS.columns}
                                                  for alert in alerts])
        await _publish_many(session, ctx, [(alert, alert.kind) for alert in alerts], at=detected_at)
        # Counted after the commit (a hook of the service reads this): a rolled-back alert is no alert.
        session.info[RAISED_KEY] = session.info.get(RAISED_KEY, ()) + tuple((alert.kind, alert.severity) for alert in alerts)
    return alerts


def count_raised(metrics: AlertsMetrics, committed: dict) -> None:
    """After-commit hook: the alerts that transaction raised."""
    for kind, severity in committed.get(RAISED_KEY, ()):
        metrics.raised.labels(kind, severity).inc()


async def _latest_by_key(session: AsyncSession, keys: set[str]) -> dict[str, tuple[str, datetime]]:
    rows = await session.execute(
        sa.select(Alert.dedup_key, Alert.status, Alert.created_at).where(Alert.dedup_key.in_(keys)).order_by(Alert.created_at)
    )
    return {row.dedup_key: (row.status, row.created_at) for row in rows}  # the newest last, so it stays


def _stands_in_the_way(latest: tuple[str, datetime] | None, candidate: Candidate, *, quiet_hours: float, at: datetime) -> bool:
    if latest is None:
        return False
    status, created_at = latest
    return status != "resolved" or candidate.kind in ONCE_ONLY or at - created_at < timedelta(hours=quiet_hours)


def _new_alert(candidate: Candidate, *, rule_version: int, detected_at: datetime) -> Alert:
    return Alert(
        id=new_id(), kind=candidate.kind, severity=candidate.severity, status="open", customer_id=candidate.customer_id,
        cause=candidate.cause, dedup_key=candidate.dedup_key, open_key=candidate.dedup_key, rule=candidate.rule,
        rule_version=rule_version, facts=candidate.facts, due_at=candidate.due_at, detected_at=detected_at,
        created_at=detected_at,
    )


async def acknowledge(session: AsyncSession, ctx: AlertsContext, alert: Alert, *, by: str, note: str | None, at: datetime) -> Alert:
    if alert.status != "open":
        raise Problem(409, "Conflict", f"the alert is {alert.status}; only an open alert can be acknowledged", field="status")
    alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", at, by
    alert.note = note if note is not None else alert.note
    await _publish(session, ctx, alert, "acknowledged", at=at, actor_id=by)
    ctx.alert_metrics.status_changes.labels("acknowledged", "person").inc()
    return alert


async def resolve(session: AsyncSession, ctx: AlertsContext, alert: Alert, *, by: str, resolution: str,
                  note: str | None = None, at: datetime) -> Alert:
    if alert.status == "resolved":
        raise Problem(409, "Conflict", "the alert is already resolved", field="status")
    alert.status, alert.resolved_at, alert.resolved_by, alert.resolution, alert.open_key = "resolved", at, by, resolution, None
    alert.note = note if note is not None else alert.note
    await _publish(session, ctx, alert, "resolved", at=at, actor_id=by)
    ctx.alert_metrics.status_changes.labels("resolved", "system" if by == SYSTEM else "person").inc()
    return alert


async def resolve_open(session: AsyncSession, ctx: AlertsContext, *, customer_id: str, kinds: set[str], resolution: str,
                       at: datetime, cause_prefix: str | None = None) -> int:
    """The cause went away: every open or acknowledged alert of these kinds (and cause) is resolved."""
    query = sa.select(Alert).where(Alert.customer_id == customer_id, Alert.kind.in_(kinds), Alert.status != "resolved")
    if cause_prefix is not None:
        query = query.where(Alert.cause.startswith(cause_prefix, autoescape=True))
    alerts = (await session.scalars(query.order_by(Alert.created_at))).all()
    for alert in alerts:
        await resolve(session, ctx, alert, by=SYSTEM, resolution=resolution, at=at)
    return len(alerts)


async def get_alert(session: AsyncSession, alert_id: str, *, for_update: bool = False) -> Alert:
    query = sa.select(Alert).where(Alert.id == alert_id)
    if for_update:
        query = query.with_for_update()
    alert = await session.scalar(query)
    if alert is None:
        raise Problem(404, "Not found", f"no alert '{alert_id}'", field="alert_id")
    return alert


def event_payload(alert: Alert, event_kind: str, *, at: datetime, actor_id: str | None = None) -> catalog.AlertEvent:
    """Everything a subscriber needs without calling back; never the note (free text)."""
    change = event_kind in ("acknowledged", "resolved")
    return EVENT_MODELS[event_kind](
        customer_id=alert.customer_id, alert_id=alert.id, kind=event_kind, severity=alert.severity, rule=alert.rule,
        rule_version=alert.rule_version, dedup_key=alert.dedup_key, facts=alert.facts, due_at=alert.due_at,
        detected_at=alert.detected_at, alert_kind=alert.kind, status=alert.status,
        actor_id=actor_id if change else None, resolution=alert.resolution if event_kind == "resolved" else None,
        changed_at=at,
    )


async def _publish(session: AsyncSession, ctx: AlertsContext, alert: Alert, event_kind: str, *, at: datetime,
                   actor_id: str | None = None) -> None:
    await _publish_many(session, ctx, [(alert, event_kind)], at=at, actor_id=actor_id)


async def _publish_many(session: AsyncSession, ctx: AlertsContext, changes: Sequence[tuple[Alert, str]], *, at: datetime,
                        actor_id: str | None = None) -> None:
    # The envelope is made once: Kafka and the webhooks carry the same event id.
    entries = [ctx.events.entry(event_payload(alert, event_kind, at=at, actor_id=actor_id)) for alert, event_kind in changes]
    await add_events(session, entries)
    await dispatch.enqueue(session, [(envelope, alert) for (envelope, _), (alert, _) in zip(entries, changes, strict=True)], at=at)
