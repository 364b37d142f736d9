"""The complaint lifecycle: filing, the state machine, due dates, replies to the follower, 回访.

States: 待受理 → 已受理 → 办理中 → 已答复 → 已办结, plus 转办 (handed to another team, which must
accept it again) and 退回 (a supervisor sends an answer back for rework). Split by reason to
change, each part saying why in its own docstring:

- `rules`: states, the state machine as data (`TRANSITIONS`), working-day due dates, overdue;
- `lifecycle`: every change to a ticket (filing, staff actions), each leaving a TicketEvent; a
  reply or a 办结 returns a `FollowerNotice` instead of sending anything;
- `delivery`: hands a notice to a channel's `Carrier` after the commit and records the outcome;
- `follower`: the follower's progress, own list and 回访 rating texts;
- `actions`: one dispatch of the staff actions (`act`) for the console and the work-order API;
- `institutions`: the institutions complained about — names grouped by their key, an admin's
  merge and split (`from bot.tickets import institutions`);
- `stats`: the statistics page's figures (weeks by category and region, the deadline, top institutions);
- `thread`: the two-way thread — a staff question (`ask`), the follower's supplements, the
  follower row's record of which ticket their messages go to.

No part imports a channel (bot.wechat): the console passes the WeChat push as the carrier.
The names below are the package's one entry (`from bot import tickets; tickets.reply(…)`), so
the console and the dialog need not know which part a function lives in.
"""
from bot.tickets.actions import STAFF_ACTIONS, Action, act
from bot.tickets.delivery import Carrier, commit_then_deliver, deliver
from bot.tickets.follower import (by_progress_token, find_own, last_public_reply, own_tickets_text, parse_rating,
                                  pending_rating, progress_text, public_events, rating_hook, record_rating, timeline)
from bot.tickets.lifecycle import (FollowerNotice, NewComplaint, accept, add_event, add_note, assign, assignees,
                                   close, file_complaint, filed_message, find_forwarded, reply, return_for_rework,
                                   reveal_phone, staff_ticket, transfer)
from bot.tickets.rules import (ACTION_LABELS, AWAITING_ACCEPT, AWAITING_ANSWER, CATEGORIES, CLOSED, NOT_YOURS,
                               NOTE_MAX, PUBLIC_TEXT_MAX, RATING_WINDOW, STATES, TRANSITIONS, NotFound, NotPermitted,
                               TicketError, Transition, WrongState, add_working_days, allowed_actions, holidays,
                               is_overdue, local_today, mask_phone, overdue_clause, queue_query)
from bot.tickets.thread import ask

__all__ = [
    "ACTION_LABELS", "AWAITING_ACCEPT", "AWAITING_ANSWER", "Action", "CATEGORIES", "CLOSED", "Carrier",
    "FollowerNotice", "NOTE_MAX", "NOT_YOURS", "NewComplaint", "NotFound", "NotPermitted", "PUBLIC_TEXT_MAX",
    "RATING_WINDOW", "STAFF_ACTIONS", "STATES", "TRANSITIONS", "TicketError", "Transition", "WrongState", "accept",
    "act", "add_event", "add_note", "add_working_days", "allowed_actions", "ask", "assign", "assignees",
    "by_progress_token", "close", "commit_then_deliver", "deliver", "file_complaint", "filed_message",
    "find_forwarded", "find_own", "holidays", "is_overdue", "last_public_reply", "local_today", "mask_phone",
    "overdue_clause", "own_tickets_text", "parse_rating", "pending_rating", "progress_text", "public_events",
    "queue_query", "rating_hook", "record_rating", "reply", "return_for_rework", "reveal_phone", "staff_ticket",
    "timeline",
    "transfer",
]
