"""Upstream's nine subcommands, as postfix-tls-script has them.
"""
