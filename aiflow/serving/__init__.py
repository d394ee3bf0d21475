"""``aiflow serve``: online predictions of a registered model over HTTP (docs/serving.md).

``create_app`` builds the service (``app``); ``model_holder`` keeps the served version current
(following the meta store's event log, swapping versions while requests run); ``protocol`` and
``schema`` check requests; ``chain`` runs a workflow's per-record transforms and its predictor
in front of the model, the same code batch and stream jobs run.

This layer sits between ``check`` and ``server``: it reads the store and runs user code like a
job (translators' ``usercode``), and the server and the CLI may use it.
"""
