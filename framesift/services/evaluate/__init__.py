"""The evaluate service: COCO metrics of each model version on the evaluation split, by slice with
bootstrap intervals; model comparisons; `framesift evaluate` on COCO files without a server."""
