"""Labeller keys: stored hashed, known keys remembered briefly, a disabled account refused."""

from __future__ import annotations

import pytest

from framesift.app.registry import create_schema
from framesift.platform.operators import UnauthenticatedError
from framesift.services.label.labellers import Labellers
from framesift.sql.engine import make_engine


def test_a_key_names_its_labeller_until_the_account_is_disabled(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'label.db'}")
    create_schema(engine, ["label"])
    accounts = Labellers(engine)
    key = accounts.add("ann", reviewer=True)
    assert accounts.identify(key).labeller_id == "ann"
    assert accounts.identify(key).reviewer
    for wrong in (None, "", "fsk_a-camera-key", key + "x"):
        with pytest.raises(UnauthenticatedError):
            accounts.identify(wrong)
    accounts.disable("ann")
    assert accounts.identify(key).labeller_id == "ann"  # remembered for identity_ttl_s
    fresh = Labellers(engine)
    with pytest.raises(UnauthenticatedError, match="not valid"):
        fresh.identify(key)
    engine.dispose()
