"""Request bodies as Label Studio 1.23 sends them; unknown keys are accepted and ignored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class SetupRequest(_Body):
    project: str | int = Field(description='"<id>.<created_at>" as Label Studio sends it')
    label_config: str = Field(alias="schema", description="the label config XML")
    hostname: str | None = None
    access_token: str | None = None
    extra_params: dict[str, Any] | None = None


class PredictRequest(_Body):
    tasks: list[dict[str, Any]]
    project: str | int
    label_config: str | None = None
    params: dict[str, Any] | None = Field(
        default=None, description='{"login", "password", "context"}; context is interactive mode')


class WebhookRequest(_Body):
    action: str
    project: dict[str, Any]


class TrainRequest(_Body):
    annotations: list[dict[str, Any]]
    project: str | int
    label_config: str | None = None
    params: dict[str, Any] | None = None


class JobStatusRequest(_Body):
    job_id: str


class ErrorBody(BaseModel):
    error: str
    message: str
    field: str | None = None
