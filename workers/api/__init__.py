"""The api worker (seed 000): catalogue, media, orders, search and recommendations."""
