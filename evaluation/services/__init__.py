"""Workflows of the evaluation app: submit, score, run algorithms, reap, re-evaluate."""
