"""The messaging worker: seed 001's end-to-end-encrypted relay (see docs/apps/messaging.md)."""
