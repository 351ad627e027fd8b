"""Community of practice: members, mailing list, working groups, meetings, resources, pages.

Depends only on accounts and core infrastructure (mail, jobs, storage, audit, time zones).
"""
