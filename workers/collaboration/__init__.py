"""The collaboration worker: live co-editing of plain text over WebSockets, with operational
transformation so that everyone ends with the same text (docs/apps/collaboration.md)."""
