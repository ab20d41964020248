"""Data stages: the demo corpus, manifests, downloads, validation and the availability report."""
