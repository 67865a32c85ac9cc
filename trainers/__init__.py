"""absl command-line binaries: feature extraction, training, evaluation, attention figures."""
