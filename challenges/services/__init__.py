"""Workflows of the challenges app: joining a challenge and forming teams."""
