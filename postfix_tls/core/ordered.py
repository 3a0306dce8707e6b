"""Order-keeping helpers for the lists a run builds (names, paths, table
keys, lines of output), where the first order is what the output shows."""

import collections


def unique(items):
    """The items (hashable) in their first order, each once."""
    return list(collections.OrderedDict((item, None) for item in items))
