"""SLA policies: which targets a complaint gets, chosen by explicit position, never by name."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

METRICS = ("first_response", "next_response", "resolution")
DEFAULT_WARNINGS = ({"share": 0.75}, {"share": 0.9})


class PolicyError(ValueError):
    """A policy or policy set that cannot be used as given."""


@dataclass(frozen=True)
class ComplaintAttributes:
    """What policies match on; a missing priority gets the policy set's default priority."""

    priority: str | None = None
    tier: str | None = None
    channel: str | None = None
    category: str | None = None

    def to_dict(self) -> dict:
        return {"priority": self.priority, "tier": self.tier, "channel": self.channel, "category": self.category}

    @classmethod
    def from_dict(cls, d: dict) -> ComplaintAttributes:
        return cls(**{key: d.get(key) for key in ("priority", "tier", "channel", "category")})


@dataclass(frozen=True)
class Conditions:
    """Each field is the set of accepted values; an empty set accepts anything."""

    priority: frozenset[str] = frozenset()
    tier: frozenset[str] = frozenset()
    channel: frozenset[str] = frozenset()
    category: frozenset[str] = frozenset()

    def accept(self, attributes: ComplaintAttributes) -> bool:
        return all(
            not getattr(self, f.name) or getattr(attributes, f.name) in getattr(self, f.name)
            for f in fields(self)
        )


@dataclass(frozen=True)
class Warning:
    """A warning at a share of the target, or a fixed time before the deadline."""

    share: float | None = None
    before_seconds: int | None = None

    def consumed_at_warning(self, target_seconds: int) -> float:
        """Consumed business seconds at which this warning is due."""
        if self.share is not None:
            return self.share * target_seconds
        return target_seconds - self.before_seconds


@dataclass(frozen=True)
class Target:
    seconds: int
    calendar: str
    warnings: tuple[Warning, ...] = ()

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise PolicyError(f"a target must be positive, not {self.seconds} s")
        for warning in self.warnings:
            if not 0 < warning.consumed_at_warning(self.seconds) < self.seconds:
                raise PolicyError(f"warning {warning} is not shorter than the {self.seconds} s target")


@dataclass(frozen=True)
class Policy:
    id: str
    version: int
    position: int
    targets: dict[tuple[str, str], Target]  # (metric, priority) -> target
    conditions: Conditions = Conditions()
    enabled: bool = True
    is_default: bool = False
    pause_on_third_party: bool = False

    def target(self, metric: str, priority: str) -> Target | None:
        return self.targets.get((metric, priority))


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]
    default_priority: str = "normal"
    version: int = 1
    _ordered: tuple[Policy, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        defaults = [p for p in self.policies if p.is_default]
        if len(defaults) != 1:
            raise PolicyError(f"a policy set needs exactly one default policy, it has {len(defaults)}")
        positions = [p.position for p in self.policies]
        if len(set(positions)) != len(positions):
            raise PolicyError("two policies share a position; the order must be explicit")
        ordered = sorted((p for p in self.policies if not p.is_default), key=lambda p: p.position)
        object.__setattr__(self, "_ordered", (*ordered, defaults[0]))

    def with_default_priority(self, attributes: ComplaintAttributes) -> ComplaintAttributes:
        if attributes.priority is not None:
            return attributes
        return ComplaintAttributes(self.default_priority, attributes.tier, attributes.channel, attributes.category)

    def match(self, attributes: ComplaintAttributes) -> Policy:
        """The first enabled policy by position whose conditions accept; else the default."""
        attributes = self.with_default_priority(attributes)
        for policy in self._ordered:
            if policy.is_default or (policy.enabled and policy.conditions.accept(attributes)):
                return policy
        raise AssertionError("unreachable: the default policy is last")

    @classmethod
    def from_dict(cls, d: dict) -> PolicySet:
        return cls(
            policies=tuple(policy_from_dict(p) for p in d["policies"]),
            default_priority=d.get("default_priority", "normal"),
            version=int(d.get("version", 1)),
        )

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "default_priority": self.default_priority,
            "policies": [policy_to_dict(p) for p in self.policies],
        }


def policy_to_dict(policy: Policy) -> dict:
    targets: dict[str, dict] = {}
    for (metric, priority), target in policy.targets.items():
        targets.setdefault(metric, {})[priority] = {
            "seconds": target.seconds,
            "calendar": target.calendar,
            "warnings": [{f.name: getattr(w, f.name) for f in fields(w) if getattr(w, f.name) is not None} for w in target.warnings],
        }
    return {
        "id": policy.id,
        "version": policy.version,
        "position": policy.position,
        "enabled": policy.enabled,
        "default": policy.is_default,
        "pause_on_third_party": policy.pause_on_third_party,
        "conditions": {f.name: sorted(getattr(policy.conditions, f.name)) for f in fields(Conditions)},
        "targets": targets,
    }


def policy_from_dict(d: dict) -> Policy:
    conditions = d.get("conditions", {})
    return Policy(
        id=d["id"],
        version=int(d.get("version", 1)),
        position=int(d["position"]),
        targets=_targets_from_dict(d["id"], d.get("targets", {})),
        conditions=Conditions(**{f.name: frozenset(conditions.get(f.name, ())) for f in fields(Conditions)}),
        enabled=bool(d.get("enabled", True)),
        is_default=bool(d.get("default", False)),
        pause_on_third_party=bool(d.get("pause_on_third_party", False)),
    )


def _targets_from_dict(policy_id: str, d: dict) -> dict[tuple[str, str], Target]:
    unknown = set(d) - set(METRICS)
    if unknown:
        raise PolicyError(f"policy {policy_id!r}: unknown metric {sorted(unknown)[0]!r}")
    return {
        (metric, priority): Target(
            seconds=int(t["seconds"]),
            calendar=t.get("calendar", "24x7"),
            warnings=tuple(Warning(**w) for w in t.get("warnings", DEFAULT_WARNINGS)),
        )
        for metric, by_priority in d.items()
        for priority, t in by_priority.items()
    }
