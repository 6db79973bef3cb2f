"""The messaging worker: seed 001's end-to-end-encrypted relay (see README "Messaging worker")."""
