"""Model facts: module tree, exact counts, memory estimate."""
