"""The REST server: ``create_app`` (``aiflow.server.app``) over the meta store, with token
authentication (``deps``), problem JSON errors (``problems``), Prometheus metrics (``metrics``)
and the API routes (``routes``)."""
