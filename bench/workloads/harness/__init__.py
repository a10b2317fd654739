"""The workload runner's parts: its collector, program runs, delivery and lineage checks."""
