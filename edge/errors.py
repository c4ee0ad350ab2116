"""The one exception type for user mistakes: the CLI prints its message on one line and exits 2."""


class UserError(Exception):
    """Bad input from a person (a path, an option, a file): shown without a traceback."""


class MissingExtraError(UserError):
    """A subcommand needs an optional dependency group that is not installed."""

    def __init__(self, extra: str, module: str):
        super().__init__(
            f"this command needs the '{extra}' extra ({module} is not installed): "
            f"pip install 'auroral[{extra}]'"
        )
