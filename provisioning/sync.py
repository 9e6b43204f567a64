"""The sync engine: runs one operation against its provider."""


def operation_run(*, operation_id: int) -> None:
    """Run one sync operation (the engine lands with the sync engine work)."""
    raise NotImplementedError
