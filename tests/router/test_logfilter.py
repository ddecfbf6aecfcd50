"""The log filter: secrets are cut out of log events before any observer sees them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.logger import Logger, formatEvent, globalLogPublisher

from cfxstore.router import logfilter

SECRET = "Zm9vYmFyYmF6cXV4cXV1eHh5eno"


def emitted(emit) -> list[dict]:
    events: list[dict] = []
    logfilter.install()
    globalLogPublisher.addObserver(events.append)
    try:
        emit(Logger(namespace="test"))
    finally:
        globalLogPublisher.removeObserver(events.append)
    return events


def test_secret_fields_are_redacted_whatever_the_level():
    events = emitted(lambda log: (log.debug('parsed cookie cbtid "{cbtid}"', cbtid=SECRET),
                                  log.info("login {ticket} {secret}", ticket=SECRET, secret=SECRET)))
    assert all(SECRET not in formatEvent(e) for e in events) and len(events) == 2
    assert "[redacted]" in formatEvent(events[0])


def test_secrets_inside_text_containers_and_bytes_are_cut_out():
    request = f"GET /ws HTTP/1.1\r\nHost: x\r\nCookie: cbtid={SECRET}\r\nAuthorization: Basic {SECRET}\r\n\r\n"
    response = f"HTTP/1.1 101\r\nSet-Cookie: cbtid={SECRET};max-age=60\r\n"
    events = emitted(lambda log: (
        log.debug("request {data}", data=request.encode()),
        log.debug("response {response}", response=response),
        log.debug("{func}: setting new cookie {value}", func="f", value=f"cbtid={SECRET};max-age=60"),
        log.debug("details {d}", d={"transport": {"http_cbtid": SECRET, "headers": [f"signature={SECRET}"]}}),
        log.debug(f"literal cbtid={SECRET} and signature='{SECRET}'"),
        log.info('completed (cookie authentication deleted: "{cookie_deleted}")', cookie_deleted=SECRET),
        log.debug("maybe_from_env(config_item={config_item}, value={value})",
                  config_item='auth.ticket.principals["x"].ticket', value=SECRET),
    ))
    assert len(events) == 7
    for event in events:
        assert SECRET not in formatEvent(event) and SECRET not in repr(event)


def test_a_configured_cookie_name_is_cut_out_too():
    logfilter.add_cookie_name("session_x")
    events = emitted(lambda log: log.info("header {h}", h=f"a=1; session_x={SECRET}"))
    assert SECRET not in formatEvent(events[0])


def test_ordinary_events_are_untouched():
    events = emitted(lambda log: log.info("worker {w} ready on port {p}", w="worker001", p=8080))
    assert formatEvent(events[0]) == "worker worker001 ready on port 8080"


def test_structured_fields_with_secret_names_stay_formattable():
    # Crossbar logs its permission decision as "authorization" and indexes it in the format string.
    events = emitted(lambda log: log.info("allowed: {authorization[allow]} {authorization[secret]}",
                                          authorization={"allow": True, "secret": SECRET}))
    assert formatEvent(events[0]) == "allowed: True [redacted]"


def test_format_placeholders_are_not_taken_for_values():
    events = emitted(lambda log: (
        log.debug("=> authorization=\n{authorization} cbtid={cbtid} signature={signature}",
                  authorization={"allow": True}, cbtid=SECRET, signature=SECRET),
        log.debug("authorization: {authorization}", authorization={"allow": False}),
    ))
    assert formatEvent(events[0]) == "=> authorization=\n{'allow': True} cbtid=[redacted] signature=[redacted]"
    assert formatEvent(events[1]) == "authorization: {'allow': False}"


def test_database_urls_and_secret_bearing_fields_are_masked_in_any_text():
    url = f"postgresql://app:{SECRET}@db:5432/app?sslmode=require&sslpassword={SECRET}&oauth_client_secret={SECRET}"
    events = emitted(lambda log: (
        log.error("cannot open {path}", path=url),
        log.error(f"connect failed ({url}); retrying"),
        log.info("config {c}", c={"sslpassword": SECRET, "client_secret": SECRET}),
        log.info(f"conninfo host=db sslpassword={SECRET} user=app"),
    ))
    for event in events:
        assert SECRET not in formatEvent(event) and SECRET not in repr(event)
    assert "postgresql://app:***@db:5432/app?sslmode=require" in formatEvent(events[0])


def _every_pattern(text: str) -> str:
    """What scrub_text did before it tested for each pattern's words: every pattern, always."""
    text = logfilter._PG_URL.sub(lambda m: logfilter.pgurl.redact(m.group(0)), text)
    text = logfilter._HEADER.sub(rf"\1\2{logfilter.REDACTED}", text)
    text = logfilter._cookie_pair.sub(rf"\1=\2{logfilter.REDACTED}", text)
    return logfilter._FIELD.sub(rf"\1\2{logfilter.REDACTED}", text)


# Fragments that make log text: keywords in odd cases (Kelvin sign as K, long s as s, dotless i as i, which
# the patterns' (?i) matches), complete secret-bearing fields and headers, and what separates them.
_PIECES = ["Ticket=abc123", "TICKET: abc", "tic\u212aet=abc", "\u017fecret=abc", "my_secret: 'x y'", "PassWord=pw",
           "s\u0131gnature=abc", "signature={signature}", "Authorization: Basic abc", "proxy-authorization: x",
           "Set-Cookie: cbtid=abc; Path=/", "cookie: a=b", "cbtid=abc", "cbtid={x}", "postgresql://u:pw@h/db",
           "POSTGRES://x:y@z/d?password=p", "=", ": ", "\n", " ", '"', "'", "abc123", ",", ";", "\t"]


@settings(max_examples=500)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_skipping_patterns_whose_words_are_absent_changes_nothing(text):
    assert logfilter.scrub_text(text) == _every_pattern(text)
