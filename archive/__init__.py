"""recast-archive: preserve a yadage analysis as a deposit, send it to a portal, re-run it."""
