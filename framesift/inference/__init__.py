"""Inference: backends, preprocessing, the model repository, tokenizer and export."""
