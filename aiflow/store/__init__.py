"""The SQL meta store: typed ORM (``orm``), entities it returns (``entities``), the store API
(``sql_store``), engine creation (``db``) and Alembic migrations (``migrations``)."""
