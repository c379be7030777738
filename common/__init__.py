"""Small shared modules, each named by its job."""
