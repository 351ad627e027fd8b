"""Community forms: shape only. Rules live in services.py."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..accounts.forms import RegisterForm
from .models import RoleCategory
from .services import RESOURCE_KINDS


class JoinForm(RegisterForm):
    email = EmailField("Work email address", validators=[DataRequired("Enter your email address."), Length(max=254)],
                       description="A .gov, .mil or .edu address. We will email you a link to confirm it.")


class ProfileForm(FlaskForm):
    name = StringField("Full name", validators=[DataRequired("Enter your name."), Length(max=200)])
    organization = StringField("Agency or institution", validators=[DataRequired("Enter your agency or institution."),
                                                                     Length(max=200)])
    job_title = StringField("Job title", validators=[Optional(), Length(max=200)])
    role_category = SelectField("Which best describes your role?",
                                choices=[("", "- Select -")] + [(c.value, c.label) for c in RoleCategory],
                                validators=[DataRequired("Choose the role that describes you best.")])
    interests = TextAreaField("Interests", validators=[Optional(), Length(max=2000)],
                              description="Topics you work on or want to learn about, e.g. document AI, evaluation.")
    listed = BooleanField("List me in the member directory")
    show_organization = BooleanField("Show my agency or institution")
    show_title = BooleanField("Show my job title")
    show_interests = BooleanField("Show my interests")
    show_email = BooleanField("Show my email address to other members")
    judge_volunteer = BooleanField("I volunteer to judge challenges",
                                   description="Staff see volunteers when they build a judging panel.")
    judge_expertise = StringField("Judging expertise", validators=[Optional(), Length(max=500)],
                                  description="Comma-separated, e.g. computer vision, privacy, acquisition.")


class SubscribeForm(FlaskForm):
    name = StringField("Name (optional)", validators=[Optional(), Length(max=200)])
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."), Length(max=254)])


class ContactForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=200)])
    email = EmailField("Your email address", validators=[DataRequired("Enter your email address."), Length(max=254)])
    subject = StringField("Subject", validators=[DataRequired("Enter a subject."), Length(max=200)])
    message = TextAreaField("Message", validators=[DataRequired("Write your message."), Length(max=5000)])
    # A field people never see (hidden by CSS and from assistive technology); bots fill it in.
    website = StringField("Leave this field empty", validators=[Optional()])


class NewsletterForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired("Enter a subject."), Length(max=200)])
    body_md = TextAreaField("Message (Markdown)", validators=[DataRequired("Write the message.")],
                            description="Headings with #, lists with -, links as [text](https://…).")
    audience = SelectField("Send to", choices=[("subscribers", "All mailing-list subscribers"),
                                               ("members", "All community members"),
                                               ("group", "Members of one working group")])
    group_id = SelectField("Working group", coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                           validators=[Optional()])


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the group's name."), Length(max=200)])
    slug = StringField("Web address", validators=[DataRequired("Enter a web address."), Length(max=80)],
                       description="Lower-case words joined by hyphens, e.g. responsible-ai.")
    summary = StringField("One-line summary", validators=[Optional(), Length(max=500)])
    description_md = TextAreaField("Description (Markdown)", validators=[Optional()])
    active = BooleanField("Open for members to join", default=True)


class AnnouncementForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=200)])
    body_md = TextAreaField("Announcement (Markdown)", validators=[DataRequired("Write the announcement.")])


class LeadForm(FlaskForm):
    user_id = HiddenField(validators=[DataRequired()])
    lead = HiddenField(validators=[DataRequired()])


class EventForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter the event's title."), Length(max=200)])
    summary = StringField("Summary", validators=[Optional(), Length(max=500)])
    agenda_md = TextAreaField("Agenda (Markdown)", validators=[Optional()])
    speakers = TextAreaField("Speakers", validators=[Optional(), Length(max=2000)],
                             description="One per line: name, title, organisation.")
    starts = StringField("Starts", validators=[DataRequired("Enter the start.")],
                         description="Local time in the event's time zone, e.g. 2027-01-14T13:00.")
    ends = StringField("Ends", validators=[DataRequired("Enter the end.")], description="e.g. 2027-01-14T14:00.")
    timezone = StringField("Time zone", default="America/New_York", validators=[DataRequired("Enter a time zone.")],
                           description="An IANA name such as America/New_York or America/Chicago.")
    location = StringField("Location", default="Online", validators=[Optional(), Length(max=300)])
    join_url = URLField("Join link", validators=[Optional(), Length(max=500)],
                        description="Shown only to people registered for the event.")
    capacity = IntegerField("Capacity", validators=[Optional(), NumberRange(min=1, max=100_000,
                                                                            message="1 to 100,000 seats.")],
                            description="Leave empty for no limit. When full, people join a waitlist.")
    public = BooleanField("Public (listed for everyone and in the calendar feed)", default=True)


class CancelEventForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Say why the event is cancelled."), Length(max=1000)])


class ScheduleForm(FlaskForm):
    months = IntegerField("Months ahead", default=12,
                          validators=[DataRequired("Enter how many months."), NumberRange(min=1, max=120)])


class ResourceForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    kind = SelectField("Kind", choices=list(RESOURCE_KINDS.items()))
    topics = StringField("Topics", validators=[Optional(), Length(max=500)],
                         description="Comma-separated, e.g. evaluation, procurement.")
    file = FileField("File", description="PDF, PowerPoint, Word, spreadsheet, image, MP4 or text.")
    url = URLField("Or a link", validators=[Optional(), Length(max=500)],
                   description="For a recording or page hosted elsewhere.")
    event_id = SelectField("Event", coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                           validators=[Optional()])
    members_only = BooleanField("Members only")


class PageForm(FlaskForm):
    title = StringField("Heading", validators=[DataRequired("Enter a heading."), Length(max=200)])
    body_md = TextAreaField("Text (Markdown)", validators=[Optional()])


class SteeringForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the person's name."), Length(max=200)])
    title = StringField("Title", validators=[Optional(), Length(max=200)])
    organization = StringField("Organisation", validators=[Optional(), Length(max=200)])
    position = IntegerField("Order", default=0,
                            validators=[Optional(), NumberRange(min=0, max=10_000, message="Use 0 to 10,000.")])


class ExceptionForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter the address."), Length(max=254)])
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=2000)],
                           description="Kept in the audit log, e.g. “Contractor supporting the NIH mission”.")


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional()])
    topic = SelectField("Topic", validators=[Optional()])
    kind = SelectField("Kind", choices=[("", "Any kind"), *RESOURCE_KINDS.items()], validators=[Optional()])


class DirectorySearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search members", validators=[Optional()])


