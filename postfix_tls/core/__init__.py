"""The shared machinery: the runner, trace and plan, the postconf and
openssl adapters, the release's facts, messages and rendering, keys
and chain files.  Every subcommand, upstream's and ours, is built from
these.
"""
