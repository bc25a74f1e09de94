"""Quality: the gates (corrupt, blurry, dark, overexposed, low information, odd size) and exact and
near duplicates; frames.ingested in, frames.checked or frames.rejected out."""
