"""API-key administration routes (admin role only)."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from services.common.auth import Principal, require
from services.common.errors import Problem
from services.common.text import RequestModel, storable_parameters

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], dependencies=[Depends(storable_parameters)])
Admin = Annotated[Principal, Depends(require("keys:manage"))]


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "manager", "agent", "analyst", "service"]


class ApiKeyOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is stored.")


@router.post("", status_code=201, response_model=ApiKeyCreated, summary="Create an API key")
async def create_key(body: ApiKeyCreate, request: Request, _: Admin):
    record, key = await request.app.state.key_store.create(name=body.name, role=body.role)
    return ApiKeyCreated(id=record.id, name=record.name, role=record.role, created_at=record.created_at, key=key)


@router.get("", response_model=list[ApiKeyOut], summary="List API keys")
async def list_keys(request: Request, _: Admin):
    return [ApiKeyOut(**vars(record)) for record in await request.app.state.key_store.list()]


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_key(key_id: str, request: Request, _: Admin):
    if not await request.app.state.key_store.revoke(key_id):
        raise Problem(404, "Not Found", f"no active API key with id '{key_id}'", field="key_id")
    return Response(status_code=204)
