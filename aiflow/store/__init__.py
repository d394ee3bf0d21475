"""The SQL meta store: the store API (``sql_store.MetaStore``, one mixin per domain in the
``_*`` modules), its typed ORM (``orm``), API tokens (``tokens``), engine creation (``db``),
Alembic migrations (``migrations``) and model artifacts (``artifacts``).

What it returns and takes are the neutral shapes of ``aiflow.schemas``.
"""
