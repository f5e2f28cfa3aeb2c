"""One sync run of one connector: its steps under the lease (pull, records, delivery, commit;
pipeline.py), run outside a Dagster server (runner.py), re-delivery without a pull, the run's
outcome (Processed / Partially Processed), the connector's state, how Dagster records a run's
end, and when runs happen (schedules, baseline cycles)."""
