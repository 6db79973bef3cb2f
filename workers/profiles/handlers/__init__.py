"""The profiles worker's route handlers, one module per resource.

Request schemas (``workers.profiles.schemas``, pydantic) are imported inside the handlers that
validate: pydantic then loads on the first such request, not at startup, where importing it and
building the models would take about a third of the server's startup budget.
"""
