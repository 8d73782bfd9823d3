"""Run-time settings staff edit in the admin area, stored per provider as typed values."""

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class Setting(db.Model):
    """One value of the settings registry (portal.services.settings) for one provider."""

    __table_args__ = (UniqueConstraint("provider_id", "key", name="uq_setting_provider_id_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[object] = mapped_column(JSON)
