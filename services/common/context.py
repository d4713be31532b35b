"""What a service's handlers, timers, jobs and routes are given, built once in the app's lifespan."""

from dataclasses import dataclass, fields
from typing import Any, TypeVar

from services.common.clock import Clock
from services.common.database import Database
from services.common.event_writer import EventWriter
from services.common.jobs import JobRunner
from services.common.observability import ServiceMetrics
from services.common.offload import Offloader
from services.common.settings import Settings

C = TypeVar("C", bound="ServiceContext")


@dataclass(frozen=True)
class ServiceContext:
    """The adapters every service has. A service subclasses it with its own objects."""

    service: str
    settings: Settings
    database: Database
    clock: Clock
    metrics: ServiceMetrics
    events: EventWriter
    offload: Offloader
    jobs: JobRunner

    def extended(self, context_class: type[C], **own: Any) -> C:
        """This context as the service's own class, with the service's objects added."""
        return context_class(**{field.name: getattr(self, field.name) for field in fields(ServiceContext)}, **own)
