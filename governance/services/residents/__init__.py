"""What residents do without an account: tell their 邻长 about a problem and follow it (居民反映)."""
