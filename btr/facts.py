"""What a case says about leaving and coming back: one answer for the rules and the survival curves.

"Did the official leave, when, did he or she return, when?" is asked by the gap rules
(:mod:`btr.gaps`) and by the Kaplan-Meier curves of the report (:mod:`btr.report`); both
read it from here, so that they cannot disagree. A recorded later post is a return
whatever the follow-up status says beside it (an official may hold a post and later be
prosecuted).
"""

from __future__ import annotations

from btr.schema import Case, FollowupPost, FollowupStatus, PartialDate

__all__ = ["first_return", "left_on", "returned", "returned_on"]

#: Statuses that say no return is known to have followed.
_NOT_RETURNED = (FollowupStatus.not_reappointed, FollowupStatus.retired, FollowupStatus.prosecuted)


def left_on(case: Case) -> PartialDate | None:
    """The date the exit took effect, else the date it was announced; None when neither is known."""
    return case.procedure.effective or case.procedure.announced


def first_return(case: Case) -> FollowupPost | None:
    """The first later post: the earliest dated one, else the first recorded; None if none is recorded."""
    posts = case.followup.posts
    dated = [p for p in posts if p.date is not None]
    if dated:
        return min(dated, key=lambda p: p.date)
    return posts[0] if posts else None


def returned(case: Case) -> bool | None:
    """True when a later post is recorded (or the status says reappointed), False when the
    follow-up says no return followed, None when the follow-up is unknown."""
    if case.followup.posts or case.followup.status is FollowupStatus.reappointed:
        return True
    if case.followup.status in _NOT_RETURNED:
        return False
    return None


def returned_on(case: Case) -> PartialDate | None:
    """The date of the first return, when one is recorded with a date."""
    post = first_return(case)
    return post.date if post is not None else None
