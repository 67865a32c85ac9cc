"""Versioned SavedModels with every preprocessing step inside the graph."""
