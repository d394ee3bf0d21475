# The two commands of the README:
#   make demo   set up, then run the wine example end to end (batch, Flink batch, a stream run),
#               then the online-learning loop live (validate -> push -> hot swap)
#   make test   set up, then lint, type-check and run the whole test suite
.PHONY: demo test lint bench clean

demo:
	scripts/setup.sh examples,flink
	scripts/ensure_java.sh
	.venv/bin/python examples/wine/demo.py
	.venv/bin/python examples/online_learning/demo.py

test:
	scripts/setup.sh dev
	scripts/fetch_jars.sh
	scripts/ensure_databases.sh
	$(MAKE) --no-print-directory lint
	.venv/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	scripts/mypy.sh

bench:
	scripts/setup.sh dev
	scripts/fetch_jars.sh
	scripts/ensure_databases.sh
	scripts/ensure_bench_tools.sh
	.venv/bin/python benchmarks/job_latency.py
	.venv/bin/python benchmarks/plan_scale.py
	.venv/bin/python benchmarks/registry_read.py
	.venv/bin/python benchmarks/submit_latency.py
	.venv/bin/python benchmarks/flink_submit.py
	.venv/bin/python benchmarks/flink_throughput.py
	.venv/bin/python benchmarks/serving_throughput.py
	.venv/bin/python benchmarks/hot_swap.py
	.venv/bin/python benchmarks/events.py
	.venv/bin/python benchmarks/ml.py

clean:
	rm -rf .venv build dist *.egg-info
