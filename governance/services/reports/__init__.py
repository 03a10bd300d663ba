"""Reports (报表): the rates defined once, the rollups, a node's report, its charts and the table exports."""
