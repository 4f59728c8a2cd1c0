"""Durable shops and their stores: the tests run on SQLite and on PostgreSQL."""
