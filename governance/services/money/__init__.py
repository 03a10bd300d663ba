"""Money (资金): the append-only ledger of renovation projects in integer fen."""
