"""Code shared by every process: settings, error codes, ids and the sans-I/O protocol."""
