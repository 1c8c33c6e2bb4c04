"""Podium's scorers: a pure numeric library (numpy, scipy, nibabel, defusedxml; never Django).

Readers validate hostile input once, at the edge; metric functions take validated arrays and
keyword-only physical parameters. Every input problem raises :class:`scorers.errors.InputError`.
"""
