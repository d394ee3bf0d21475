"""The shapes every layer shares, in plain pydantic: what the meta store returns (``entities``),
what callers hand it (``inputs``), what the REST API sends and receives (``api``), the bounds
and name rules all of them enforce (``limits``) and the trigger schedule rule (``schedules``).

Nothing here imports FastAPI, SQLAlchemy or pandas, and nothing here talks to a database or a
server: ``aiflow.client`` depends on this package alone (with ``errors`` and ``plan``), so a
program that only calls a server does not load the store or the server to read its answers.
"""
