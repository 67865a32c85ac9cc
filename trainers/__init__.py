"""absl command-line binaries: feature extraction (training and evaluation to follow)."""
