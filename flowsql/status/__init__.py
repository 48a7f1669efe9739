"""Seeing a running pipeline: its state sampled into metrics, shown as a live panel on a
terminal, as log lines elsewhere, and served in the Prometheus text format."""
