# The two commands of the README:
#   make demo   set up, then run the wine example end to end (batch, Flink batch, a stream run),
#               then the online-learning loop live (validate -> push -> hot swap)
#   make test   set up, then lint, type-check and run the whole test suite (the web dashboard's
#               component tests too, and its browser tests in Debian's chromium; the Kubernetes
#               tests against a real control plane built from the Go module proxy, cached)
.PHONY: demo test lint web-test bench clean

demo:
	scripts/setup.sh examples,flink
	scripts/ensure_java.sh
	scripts/build_web.sh --if-node
	.venv/bin/python examples/wine/demo.py
	.venv/bin/python examples/online_learning/demo.py
	.venv/bin/python examples/dashboard.py

test:
	scripts/setup.sh dev
	scripts/fetch_jars.sh
	scripts/ensure_databases.sh
	scripts/ensure_chromium.sh
	scripts/build_web.sh
	scripts/build_k8s.sh >/dev/null
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory web-test
	.venv/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# the dashboard's type check and component tests (Vitest); its browser tests are in tests/web
web-test:
	cd web && npx tsc -b && npx vitest run

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
	.venv/bin/python benchmarks/job_chain_peers.py
	.venv/bin/python benchmarks/plan_scale.py
	.venv/bin/python benchmarks/registry_read.py
	.venv/bin/python benchmarks/submit_latency.py
	.venv/bin/python benchmarks/flink_submit.py
	.venv/bin/python benchmarks/flink_throughput.py
	.venv/bin/python benchmarks/serving_throughput.py
	.venv/bin/python benchmarks/hot_swap.py
	.venv/bin/python benchmarks/stream_latency.py
	.venv/bin/python benchmarks/events.py
	.venv/bin/python benchmarks/ml.py
	.venv/bin/python benchmarks/k8s_jobs.py
	.venv/bin/python benchmarks/yarn_jobs.py
	.venv/bin/python benchmarks/yarn_flink.py
	scripts/ensure_chromium.sh && scripts/build_web.sh
	.venv/bin/python benchmarks/web_pageload.py

clean:
	rm -rf .venv build dist *.egg-info
