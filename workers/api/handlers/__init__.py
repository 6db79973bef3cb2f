"""The api worker's route handlers, one module per resource."""
