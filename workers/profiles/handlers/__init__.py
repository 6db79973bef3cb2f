"""The profiles worker's route handlers, one module per resource."""
