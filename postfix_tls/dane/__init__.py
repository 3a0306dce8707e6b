"""DANE (ours): TLSA records, the rollover's records, and checks against
DNS and the live server.
"""
