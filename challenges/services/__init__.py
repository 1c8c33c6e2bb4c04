"""Workflows of the challenges app: importing tasks, joining, the demo challenge."""
