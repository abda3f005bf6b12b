"""The one exception type that means "the user's input is wrong", not "the code is wrong"."""


class InputError(Exception):
    """Bad input: the message names the file or flag and the problem, in one line.

    Scripts turn it into ``prog: error: message`` on stderr and exit status 2, without a traceback.
    """
