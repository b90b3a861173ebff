"""Workflows: training, evaluation, export, the cluster, the strategy comparison and the benchmark; the commands call these."""
