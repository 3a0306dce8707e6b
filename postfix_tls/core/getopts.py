"""POSIX ``getopts`` as upstream uses it (silent mode, ``:a:b:r:``)."""


class UsageError(Exception):
    """An unknown option, or one whose argument is missing."""


def getopts(args, letters):
    """Split args into ({letter: value}, operands).

    letters lists the options, each taking an argument ("abr" for ":a:b:r:").
    Options stop at the first operand, at "-" or after "--"; a later option
    overrides an earlier one; "-ab" is "-a b"; "-a" takes the next argument
    whatever it looks like.
    """
    options = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        letter = arg[1]
        if letter not in letters or letter == ":":
            raise UsageError(arg)
        if len(arg) > 2:
            options[letter] = arg[2:]
        elif index + 1 < len(args):
            index += 1
            options[letter] = args[index]
        else:
            raise UsageError(arg)
        index += 1
    return options, list(args[index:])
