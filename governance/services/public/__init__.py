"""What the public may see: the one projection of public data, the cache of public pages, Open311."""
