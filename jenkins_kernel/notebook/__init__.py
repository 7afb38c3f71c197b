"""Whole notebooks: loading, parameters, running, outputs and reports."""
