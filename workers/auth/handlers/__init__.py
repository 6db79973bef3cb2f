"""The auth worker's handlers, one module per resource."""
