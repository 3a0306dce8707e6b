"""``status`` (ours): what Postfix loads, checked.
"""
