"""Benchmarks: what the service costs beyond the work it cannot avoid (`make bench`).

Each benchmark measures its own baseline in the same run and prints one table with the
baseline, the measurement and their ratio; `python -m bench` runs them all and exits non-zero
when a target is missed.
"""
