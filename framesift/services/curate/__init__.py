"""Curate: the curation read model, priority, selection under a budget, and the CurationService."""
