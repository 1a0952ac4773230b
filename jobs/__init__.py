"""RQ job functions: thin wrappers (ids in, small dict out) over services."""
