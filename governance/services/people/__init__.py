"""People and the tree: accounts, roster import, the tree's nodes and finding people within a scope."""
