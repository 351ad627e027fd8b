"""Account forms: shape only. Rules about passwords and emails live in services.py."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from .models import Role


class RegisterForm(FlaskForm):
    name = StringField("Full name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password.")],
        description="At least 12 characters. A short sentence is easy to remember and hard to guess.",
    )
    confirm = PasswordField(
        "Type the password again",
        validators=[DataRequired("Type the password again."), EqualTo("password", "The two passwords do not match.")],
    )


class SignInForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class EmailForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address.")])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password.")],
        description="At least 12 characters.",
    )
    confirm = PasswordField(
        "Type the new password again",
        validators=[DataRequired("Type the password again."), EqualTo("password", "The two passwords do not match.")],
    )


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])


class ProfileForm(FlaskForm):
    name = StringField("Full name", validators=[Optional(), Length(max=200)])


class ConfirmForm(FlaskForm):
    """A button-only form: CSRF protection for one-click actions."""


class RoleForm(FlaskForm):
    # No default: one click on Apply must never grant administrator rights by accident.
    role = SelectField("Role", choices=[("", "- Choose a role -"), *((r.value, r.label) for r in Role)],
                       validators=[DataRequired(message="Choose a role.")])
    action = SelectField("Action", choices=[("grant", "Grant"), ("revoke", "Revoke")])


class ActiveForm(FlaskForm):
    active = BooleanField("Account active")
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=1000)],
                           description="Required when deactivating; kept in the audit log.")


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search name or email", validators=[Optional()])
    role = SelectField("Role", choices=[("", "Any role")] + [(r.value, r.label) for r in Role], validators=[Optional()])
    status = SelectField("Status", choices=[("", "Any"), ("active", "Active"), ("inactive", "Deactivated")],
                         validators=[Optional()])
