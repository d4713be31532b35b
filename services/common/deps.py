"""What routes take from the running app, as FastAPI dependencies.

Each service names its own context type: `ContextDep = Annotated[MyContext, Depends(service_context)]`.
They are `async def` although they never wait: FastAPI runs a plain `def` dependency in a thread,
and the hand-over cost more CPU per request than the dependency itself."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.context import ServiceContext
from services.common.database import Database


async def service_database(request: Request) -> Database:
    return request.app.state.database


async def service_context(request: Request) -> ServiceContext:
    return request.app.state.context


DatabaseDep = Annotated[Database, Depends(service_database)]
