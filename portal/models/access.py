"""Access control: access groups of staff functions, and functions granted to a person."""

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db

user_access_group = Table(
    "user_access_group",
    db.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("access_group.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AccessGroup(db.Model):
    """A named set of staff functions (Finance, Technical support, Sales...)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")

    grants: Mapped[list["GroupFunction"]] = relationship(
        cascade="all, delete-orphan", order_by="GroupFunction.code"
    )

    @property
    def codes(self) -> set[str]:
        return {grant.code for grant in self.grants}


class GroupFunction(db.Model):
    """One function of an access group."""

    __table_args__ = (UniqueConstraint("group_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("access_group.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))


class UserFunction(db.Model):
    """A function granted to one person: a staff member's own function, or a client user's right."""

    __table_args__ = (UniqueConstraint("user_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
