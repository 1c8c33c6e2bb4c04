"""What the apps share, below all of them: the platform's error family, storage, safe archives
and the REST API plumbing. Imports no app (see the import contracts in pyproject.toml)."""
