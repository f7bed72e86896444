"""One exception for everything a user can get wrong; the CLI prints it as a single line."""


class InputError(ValueError):
    """Bad input: a malformed file, an unknown field, an impossible value, an unknown method."""
