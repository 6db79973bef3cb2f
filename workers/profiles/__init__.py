"""The profiles worker (seed 002): browser profiles, teams, locks, session sync, billing."""
