"""postfix-tls: Postfix's "postfix tls" command, in Python."""

__version__ = "0.1.0"
