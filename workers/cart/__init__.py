"""The cart worker (seed 000): each user's cart in a CartDurableObject."""
