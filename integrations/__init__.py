"""Provider integrations: one package per provider with client, adapter and sandbox.

Nothing here imports Django: configuration arrives as dataclasses and results
leave as dataclasses (see `contract`).
"""
