"""Forms of the admin area: administrators, access groups, Rights, Deny access, list filters."""

from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import PortalForm
from portal.services.password_policy import HARD_MAX_LENGTH
from portal.services.permissions import FUNCTIONS, GRANTABLE, modules


class CheckboxesField(SelectMultipleField):
    """A set of checkboxes, one per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class FunctionTreeMixin:
    """Functions as a checkbox tree by module; a chosen module chooses its functions."""

    area = "staff"

    def chosen_functions(self, grantable: list[str]) -> list[str]:
        """The ticked functions, plus every function of a ticked module that the actor may grant."""
        chosen = set(self.functions.data or [])
        for module in self.modules.data or []:
            chosen.update(f.code for f in modules(self.area).get(module, []) if f.code in grantable)
        return [code for code in GRANTABLE[self.area] if code in chosen]


def _function_choices(area: str):
    return [(code, FUNCTIONS[code].label) for code in GRANTABLE[area]]


class AdminForm(FunctionTreeMixin, PortalForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=100)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    full_access = BooleanField("Full access")
    groups = CheckboxesField("Access groups", coerce=int, choices=[])
    modules = CheckboxesField("Modules", choices=[(m, m) for m in modules("staff")])
    functions = CheckboxesField("Functions", choices=_function_choices("staff"))
    # The acting administrator's own: asked to add an administrator or change one's email.
    current_password = PasswordField("Current password", validators=[Optional(), Length(max=HARD_MAX_LENGTH)])
    submit = SubmitField("Save")


class GroupForm(FunctionTreeMixin, PortalForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    description = StringField("Description", validators=[Optional(), Length(max=300)])
    modules = CheckboxesField("Modules", choices=[(m, m) for m in modules("staff")])
    functions = CheckboxesField("Functions", choices=_function_choices("staff"))
    submit = SubmitField("Save")


class RightsForm(PortalForm):
    rights = CheckboxesField("Rights", choices=_function_choices("client"))
    submit = SubmitField("Save")


class DenyAccessForm(PortalForm):
    denied = BooleanField("Deny access")
