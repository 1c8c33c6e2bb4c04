"""The exception and warning of the statistics library."""


class StatsInputError(ValueError):
    """Input that cannot be ranked as given.

    The message is meant for the person who supplied the table: it names the task, case or
    algorithm at fault and says what was expected ("task Task02_Heart: case la_003 appears twice
    for algorithm unet").
    """


class DroppedCasesWarning(UserWarning):
    """Missing values were dropped (``na="drop"``): the algorithms are no longer compared on the
    same cases, which favours an algorithm that fails on its hardest cases."""
