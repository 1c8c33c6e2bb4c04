"""Reference implementations that Podium's scorers are checked and benchmarked against."""
