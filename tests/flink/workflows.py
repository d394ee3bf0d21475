"""Workflow files the Flink tests write: a transformer doubling ``x``, and what reads and writes
around it (each test its own sources, sinks and options)."""

DOUBLE = """
import aiflow as af

class Double(af.Transformer):
    output_schema = {"x": "bigint", "x2": "bigint"}

    def transform(self, batch):
        return batch.assign(x2=batch["x"] * 2)
"""
