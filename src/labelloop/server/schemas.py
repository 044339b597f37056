"""Request bodies as Label Studio 1.23 sends them; unknown keys are accepted and ignored.

The OpenAPI spec says as much as JSON Schema can: what it cannot (a label config must be
well-formed XML; tasks must hold the data keys the config reads) is a 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from labelloop.store.jobs import JOB_ID_PATTERN
from labelloop.store.project_ids import MAX_PROJECT_LENGTH, PROJECT_PATTERN

ProjectQuery = Annotated[str, Field(pattern=PROJECT_PATTERN, max_length=MAX_PROJECT_LENGTH)]
ProjectId = (Annotated[ProjectQuery, Field(strict=True)]
             | Annotated[int, Field(ge=0, strict=True)])
LabelConfigXml = Annotated[str, Field(min_length=1, description="label config XML")]
_PROJECT_SCHEMA = {"anyOf": [
    {"type": "string", "pattern": PROJECT_PATTERN, "maxLength": MAX_PROJECT_LENGTH},
    {"type": "integer", "minimum": 0}]}
# Tasks stay plain dicts at run time (no per-task model objects in 50,000-task batches);
# the spec still says what a task must hold.
TaskJson = Annotated[dict[str, Any], WithJsonSchema({
    "type": "object", "required": ["data"], "properties": {"data": {"type": "object"}}})]
WebhookProject = Annotated[dict[str, Any], WithJsonSchema({
    "type": "object", "required": ["id"], "properties": {"id": _PROJECT_SCHEMA}})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class SetupRequest(_Body):
    project: ProjectId = Field(description='"<id>.<created_at>" as Label Studio sends it')
    label_config: LabelConfigXml = Field(alias="schema")
    hostname: str | None = None
    access_token: str | None = None
    extra_params: dict[str, Any] | None = None


class PredictRequest(_Body):
    tasks: list[TaskJson]
    project: ProjectId | None = Field(
        default=None, description="absent (as label-studio-ml's example tests send it): the "
                                  "default project (LABELLOOP_DEFAULT_PROJECT, 'default')")
    label_config: LabelConfigXml
    params: dict[str, Any] | None = Field(
        default=None, description='{"login", "password", "context"}; context is interactive mode')


class WebhookRequest(_Body):
    action: Annotated[str, Field(min_length=1)]
    project: WebhookProject


# An empty list is refused as Label Studio 0.9 refused it (400 "No completions found."),
# by the backend rather than the parser: the spec says so with minItems.
AnnotatedTasks = Annotated[list[dict[str, Any]], WithJsonSchema({
    "type": "array", "minItems": 1, "items": {"type": "object"}})]


class TrainRequest(_Body):
    annotations: AnnotatedTasks | None = Field(
        default=None, description="annotated tasks (Label Studio 1.x)")
    completions: AnnotatedTasks | None = Field(
        default=None, description="the same, as Label Studio 0.8/0.9 sent them")
    project: ProjectId | None = Field(
        default=None, description="absent: the default project, as on /predict")
    label_config: LabelConfigXml | None = None
    params: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    error: str
    message: str
    field: str | None = None


JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN)]
