"""Code shared by every process: settings, error codes, ids, group commit and the sans-I/O
protocol."""
