"""The API's routes, one module per resource, all under ``/api/v1``.

Routes are thin: they validate parameters (``aiflow.server.params``; bodies are the shapes of
``aiflow.schemas.api``), call one or two ``MetaStore`` methods (the names ``aiflow.client``
uses for the same operation) and shape the answer. They raise ``aiflow.errors`` exceptions,
which ``aiflow.server.problems`` turns into problem JSON, and every route takes the principal it
needs (``Viewer`` to read, ``Editor`` to change or run things) so none can be reached without
a token of the right role. The job API (``job_api``) is the exception: running jobs call it
with their attempt's job token, and it checks each call against the job's own spec.
"""

from __future__ import annotations

from fastapi import APIRouter

from aiflow.server.routes.events import router as events_router
from aiflow.server.routes.examples import router as examples_router
from aiflow.server.routes.executions import router as executions_router
from aiflow.server.routes.job_api import router as job_api_router
from aiflow.server.routes.jobs import router as jobs_router
from aiflow.server.routes.models import router as models_router
from aiflow.server.routes.session import router as session_router
from aiflow.server.routes.submit import router as submit_router
from aiflow.server.routes.tokens import router as tokens_router
from aiflow.server.routes.triggers import router as triggers_router
from aiflow.server.routes.workflows import router as workflows_router

api_router = APIRouter(prefix="/api/v1")
for router in (
    workflows_router,
    submit_router,
    executions_router,
    jobs_router,
    models_router,
    examples_router,
    events_router,
    triggers_router,
    tokens_router,
    session_router,
    job_api_router,  # for running jobs, with job tokens (not in the OpenAPI document)
):
    api_router.include_router(router)

__all__ = ["api_router"]
