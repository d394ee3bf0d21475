"""``aiflow.ml`` on Apache Flink: what runs a stage's ``fit`` / ``transform`` and a bounded
iteration when their tables are on engine ``flink`` (design and limits: docs/ml.md, "On Flink").

    engine      which calls go where: sharded transforms, fits in one task, driver-side fits
    iteration   iterate_bounded's rounds in one job's tasks (ShardedBody: data-parallel)
    tasks       the job: tasks keeping their shard, rounds sent from the driver
    programs    what a task runs each round
    wire        the bytes between driver and tasks (JSON + Arrow IPC, no pickle)
    cluster     where the jobs run: the Flink engine's settings
"""
