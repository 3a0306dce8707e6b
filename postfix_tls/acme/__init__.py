"""``deploy-acme-cert`` (ours): the deploy step of an ACME client's
renewal, one module per step.
"""
