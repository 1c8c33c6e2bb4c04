"""The one exception family for bad input to the scorers."""


class InputError(ValueError):
    """Input that cannot be scored as given.

    The message is meant for the person who supplied the input: it names the file or case and
    says what was expected ("case liver_017: prediction shape (512, 512, 74) does not match the
    reference (512, 512, 75)"). It never contains label content or a server path beyond the
    name the caller passed in.
    """
