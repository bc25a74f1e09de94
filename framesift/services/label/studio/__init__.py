"""Label Studio as the labelling tool: the project made from the ontology, tasks out with their
pre-labels, annotations back (webhooks and a reconciliation pass), verdicts written back."""
