"""Vendor forms. The application form itself is built from the phase's fields at request time."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .models import BUSINESS_SIZES, CATEGORIES, SAM_STATUSES


class OrganizationForm(FlaskForm):
    legal_name = StringField("Legal name", validators=[DataRequired("Enter the organisation’s legal name."),
                                                      Length(max=300)])
    uei = StringField("Unique Entity ID (UEI)", validators=[Optional(), Length(max=20)],
                      description="The 12-character ID from SAM.gov, e.g. J7M9HPTGJ1S9. "
                                  "Leave empty if you have none yet.")
    sam_status = SelectField("SAM.gov registration", choices=list(SAM_STATUSES.items()), validate_choice=False)
    business_size = SelectField("Business size", choices=list(BUSINESS_SIZES.items()), validate_choice=False)
    categories = SelectMultipleField("Socio-economic categories", choices=list(CATEGORIES.items()),
                                     validate_choice=False)
    website = StringField("Website", validators=[Optional(), Length(max=500)], description="Starting with https://")
    poc_name = StringField("Point of contact name", validators=[Optional(), Length(max=200)])
    poc_email = EmailField("Point of contact email", validators=[Optional(), Length(max=254)])
    poc_phone = StringField("Point of contact phone", validators=[Optional(), Length(max=40)])


class StartForm(FlaskForm):
    organization_id = SelectField("Apply as", coerce=int, choices=[], validate_choice=False)


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=2000)])


class RulesForm(FlaskForm):
    rules_version = HiddenField("Rules version", validators=[DataRequired()])


class InviteForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter the person’s email address."),
                                                    Length(max=254)])
    role = SelectField("Role", choices=[("contributor", "Contributor: edits applications"),
                                        ("owner", "Owner: also manages the profile and members")],
                       validate_choice=False)
