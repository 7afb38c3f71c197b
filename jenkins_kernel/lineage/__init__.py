"""Lineage: what produced a run (environment, inputs, code, parameters) and what it
measured (metrics), recorded so that any run can be traced, compared and repeated."""
