"""Recorded (composed) Kubernetes API conversations and the server that replays them."""
