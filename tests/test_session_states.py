"""The session state table: every state reachable, docs in sync, key policies encoded."""

from __future__ import annotations

from pathlib import Path

from routeb.driver.states import TRANSITIONS, SessionState, Trigger, mermaid, next_state

DOC = Path(__file__).resolve().parent.parent / "docs" / "session.md"


def test_docs_diagram_is_generated_from_the_table() -> None:
    assert mermaid() in DOC.read_text(encoding="utf-8")


def test_every_state_is_reachable_from_closed() -> None:
    seen = {SessionState.CLOSED}
    frontier = [SessionState.CLOSED]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(SessionState)


def test_policies() -> None:
    # EVENT 26: rejoin at once, not after a timeout.
    assert next_state(SessionState.READY, Trigger.SESSION_ENDED) is SessionState.JOINING
    # EVENT 29 pauses sending until EVENT 25; it is not a failure.
    assert next_state(SessionState.READY, Trigger.LIFETIME_EXPIRED) is (
        SessionState.REAUTHENTICATING
    )
    assert next_state(SessionState.REAUTHENTICATING, Trigger.JOINED) is SessionState.READY
    # EVENT 32/33 pause and resume.
    assert next_state(SessionState.READY, Trigger.TX_BUDGET_EXHAUSTED) is SessionState.TX_LIMITED
    assert next_state(SessionState.TX_LIMITED, Trigger.TX_BUDGET_RELEASED) is SessionState.READY
    # A wrong password latches; nothing leaves LATCHED but closing.
    assert next_state(SessionState.JOINING, Trigger.AUTH_FAILED) is SessionState.LATCHED
    assert [t for (s, t) in TRANSITIONS if s is SessionState.LATCHED] == [Trigger.CLOSE]
    # A join that fails with the cache rescans.
    assert next_state(SessionState.JOINING, Trigger.JOIN_FAILED_WITH_CACHE) is (
        SessionState.SCANNING
    )
    assert next_state(SessionState.CLOSED, Trigger.JOINED) is None
