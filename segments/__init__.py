"""Parent segments (customer tables and their profiles) and segments (rule-defined audiences)."""
