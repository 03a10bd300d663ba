"""The door-to-door work of the 三长: notices down the tree with read receipts and replies (notices)."""
