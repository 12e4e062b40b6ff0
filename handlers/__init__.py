"""HTTP layer: one module per resource, dispatched to by operationId from the contract."""
