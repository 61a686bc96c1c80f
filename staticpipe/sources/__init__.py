"""Where static files come from: finders, ignore patterns, the reused walk."""
