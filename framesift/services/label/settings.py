"""The label service's settings section (FRAMESIFT_LABEL__*): leases, the ontology file, review
sampling and the QA checks' thresholds."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, model_validator

Rate = Annotated[float, Field(ge=0, le=1)]


class ReviewSettings(BaseModel):
    """Which submitted tasks a reviewer sees (FRAMESIFT_LABEL__REVIEW__*)."""

    # The share of tasks reviewed, chosen from the task id and `seed` (a replay picks the same).
    rate: Rate = 0.10
    seed: str = "framesift"
    # Overrides: the highest rate that applies to a task wins (camera, any of its classes, labeller).
    camera_rates: dict[str, Rate] = {}
    class_rates: dict[str, Rate] = {}
    labeller_rates: dict[str, Rate] = {}
    # Stratified: every labeller and every class gets at least this many reviews per period.
    min_per_stratum: Annotated[int, Field(ge=0)] = 3
    period_s: Annotated[float, Field(gt=0)] = 7 * 86400.0
    # A new labeller's first tasks are all reviewed.
    new_labeller_tasks: Annotated[int, Field(ge=0)] = 10
    # Adaptive: from `adaptive_after` random reviews of a labeller in the period on, the rate is
    # doubled while their reviewed error rate is above `target_error` and halved while it is
    # below half of it, within [min_rate, max_rate].
    adaptive: bool = True
    adaptive_after: Annotated[int, Field(ge=1)] = 10
    target_error: Rate = 0.05
    min_rate: Rate = 0.02
    max_rate: Rate = 0.5

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ReviewSettings:
        if self.min_rate > self.max_rate:
            raise ValueError("review.min_rate must not exceed review.max_rate")
        return self


class QaSettings(BaseModel):
    """The label QA checks' thresholds (FRAMESIFT_LABEL__QA__*); see qa.py for what each means."""

    # A pre-label this confident is "confident" (missing object, changed class).
    confident_score: Rate = 0.7
    # A label and a pre-label of the same object overlap at least this much (IoU).
    match_iou: Rate = 0.5
    # A label of the pre-label's class is on the same object when one box lies mostly inside the
    # other (this share of the smaller one): how a too tight or too wide box is told from another object.
    contained: Rate = 0.8
    # Matched but this far off: the label's box is much smaller or larger than the pre-label's.
    tight_area_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.6
    wide_area_ratio: Annotated[float, Field(gt=1)] = 1.67
    # Two boxes of one class overlapping this much are one object labelled twice.
    duplicate_iou: Rate = 0.85
    # A box with a side shorter than this many pixels is degenerate (whatever the ontology says).
    degenerate_px: Annotated[float, Field(ge=0)] = 2.0


class LabellingTool(StrEnum):
    BUILTIN = "builtin"  # framesift's own API and browser pages
    LABEL_STUDIO = "label-studio"  # a Label Studio server does the drawing (studio/)


class LabelStudioSettings(BaseModel):
    """Where Label Studio is and how framesift talks to it (FRAMESIFT_LABEL__LABEL_STUDIO__*).
    The token and the secret come from the environment, never from a file in the repository."""

    url: AnyHttpUrl | None = None
    # A Label Studio API token (Authorization: Token ...): the legacy token of the account
    # framesift acts as.
    token: SecretStr | None = None
    # framesift's own secret: Label Studio sends it back with every webhook (it does not sign
    # them), and it signs the image URLs framesift gives Label Studio. 32 characters at least.
    secret: SecretStr | None = None
    # The project framesift creates and keeps (found again by this title).
    project_title: str = Field(default="framesift", min_length=3, max_length=128)
    # framesift's address as Label Studio's server and its users' browsers reach it: the signed
    # image URLs and the webhook point there.
    public_url: AnyHttpUrl | None = None
    # Register a webhook (annotations arrive within a second); False: reconciliation alone
    # brings them back, every reconcile_every_s.
    webhook: bool = True
    # Tasks per import call, and how often tasks are pushed and changes pulled.
    batch: Annotated[int, Field(ge=1, le=5000)] = 200
    push_every_s: Annotated[float, Field(gt=0)] = 5.0
    reconcile_every_s: Annotated[float, Field(gt=0)] = 300.0
    # Reconciliation reads from this long before its watermark (Label Studio's clock and
    # transactions that committed late); reading a change twice is harmless.
    overlap_s: Annotated[float, Field(ge=0)] = 60.0
    # A signed image URL is valid this long; reconciliation renews those about to expire.
    image_url_ttl_s: Annotated[float, Field(gt=60)] = 7 * 86400.0
    timeout_s: Annotated[float, Field(gt=0)] = 10.0

    def missing(self) -> list[str]:
        """The settings the adapter cannot start without."""
        secret = self.secret.get_secret_value() if self.secret else ""
        return [
            name
            for name, ok in (
                ("url", self.url),
                ("token", self.token),
                ("secret", len(secret) >= 32),
                ("public_url", self.public_url),
            )
            if not ok
        ]


class LabelSettings(BaseModel):
    """Tasks, leases, ontology and review (FRAMESIFT_LABEL__*)."""

    # The consumer group of frames.selected.
    group: str = Field(default="label", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # A labeller holds a task this long; an abandoned task then returns to the queue.
    lease_s: Annotated[float, Field(gt=0)] = 600.0
    # A YAML or JSON ontology file applied at start (a new version when it changed); None: the
    # ontology comes from the API or the CLI.
    ontology_file: Path | None = None
    review: ReviewSettings = ReviewSettings()
    qa: QaSettings = QaSettings()
    # Who draws the boxes: framesift's own pages, or a Label Studio server (label_studio.*).
    tool: LabellingTool = LabellingTool.BUILTIN
    label_studio: LabelStudioSettings = LabelStudioSettings()

    @model_validator(mode="after")
    def _tool_is_configured(self) -> LabelSettings:
        missing = self.label_studio.missing() if self.tool == LabellingTool.LABEL_STUDIO else []
        if missing:
            names = ", ".join(f"FRAMESIFT_LABEL__LABEL_STUDIO__{n.upper()}" for n in missing)
            raise ValueError(f"tool=label-studio needs {names} (the secret: 32 characters at least)")
        return self
