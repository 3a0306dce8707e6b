"""Packaging helpers: the development drop-in and the .pyz's entry.
"""
