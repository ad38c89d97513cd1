"""pytest plugin (entry point ``pytest11``) with fixtures for users' own tests."""
