"""What a config costs before it runs: ``python -m datar plan`` (runs, steps, samples, disk, hours)."""
