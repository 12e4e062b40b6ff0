"""Data layer: tables, engines, migrations and one query module per resource.

Query functions take a connection, never commit and never know about HTTP.
"""
