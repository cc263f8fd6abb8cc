"""Multi-turn conversations grounded in document chunks, linked to the chunks they came from.

No Dagster import. :mod:`.generate` plans, asks and collects them; :mod:`.validate` says what is wrong
with a conversation (roles, empty turns, unknown chunks). The asset is ``conversations``
(ragassets/defs/conversations/).
"""

from ragassets.conversations.generate import (
    CONVERSATIONS_SCHEMA,
    ConversationPlan,
    ConversationsRun,
    collect_conversations,
    conversation_requests,
    generate_conversations,
    plan_conversations,
)
from ragassets.conversations.validate import conversation_problems, normalize_turns, unknown_chunk_ids

__all__ = [
    "CONVERSATIONS_SCHEMA",
    "ConversationPlan",
    "ConversationsRun",
    "collect_conversations",
    "conversation_problems",
    "conversation_requests",
    "generate_conversations",
    "normalize_turns",
    "plan_conversations",
    "unknown_chunk_ids",
]
