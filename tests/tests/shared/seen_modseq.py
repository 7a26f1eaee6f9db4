# A reader's own \Seen reaches the reader's other devices through CONDSTORE and QRESYNC
# (RFC 7162): 홍길동 (hong) shares 공유/결재 with 김철수 (kim, "lrs"). kim's phone remembers
# the mailbox's HIGHESTMODSEQ and goes offline; kim reads a message on the desktop; the
# phone's FETCH ... (CHANGEDSINCE n) and SELECT ... (QRESYNC ...) bring the message back
# as read. The owner sees the MODSEQ move but the message stays unread for them; kim's
# CONDSTORE connection in IDLE hears the next mark at once, a plain connection of the
# owner hears nothing. Arguments: those of sharing.py.
import os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import connect, ok, utf7  # noqa: E402

BOX = "공유/결재"
SHARED = utf7("Other Users/hong/" + BOX)
hong = connect("hong")
ok(hong.create(utf7(BOX)), "create")
for n in (1, 2):
    message = (f"From: 홍길동 <hong@test.go.kr>\r\nSubject: 결재 {n}건\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n검토 부탁드립니다.\r\n").encode()
    ok(hong.append(utf7(BOX), None, None, message), "append")
ok(hong.setacl(utf7(BOX), "kim", "lrs"), "share with kim")


def select_condstore(m, name, qresync=None):
    """SELECT with CONDSTORE (or QRESYNC (uidvalidity modseq)); the untagged answers."""
    param = f"(QRESYNC ({qresync[0]} {qresync[1]}))" if qresync else "(CONDSTORE)"
    ok(m._simple_command("SELECT", name, param), "select " + param)
    m.state = "SELECTED"
    return m


def number(m, code):
    """The number of the last [code n] answer of `m`."""
    return int(m.response(code)[1][-1])


def changed_since(m, modseq):
    """{uid: the FETCH line} of UID FETCH 1:* (FLAGS) (CHANGEDSINCE modseq)."""
    data = ok(m.uid("FETCH", "1:*", f"(FLAGS) (CHANGEDSINCE {modseq})"), "changedsince")
    lines = [d.decode() for d in data if isinstance(d, bytes)]
    return {int(re.search(r"UID (\d+)", line).group(1)): line for line in lines}


# The phone remembers where it was and goes offline.
phone = connect("kim")
ok(phone.enable("QRESYNC"), "enable qresync")
select_condstore(phone, SHARED)
modseq, validity = number(phone, "HIGHESTMODSEQ"), number(phone, "UIDVALIDITY")
phone.logout()

# On the desktop kim reads message 1.
desktop = connect("kim")
ok(desktop.select(SHARED), "desktop select")
ok(desktop.store("1", "+FLAGS", "(\\Seen)"), "kim reads 1")

# The phone comes back: CHANGEDSINCE names message 1, read.
phone = connect("kim")
ok(phone.enable("CONDSTORE"), "enable condstore")
select_condstore(phone, SHARED)
assert number(phone, "HIGHESTMODSEQ") > modseq, "the mailbox's MODSEQ moved"
changes = changed_since(phone, modseq)
assert list(changes) == [1] and "\\Seen" in changes[1], changes
phone.logout()
phone = connect("kim")
ok(phone.enable("QRESYNC"), "enable qresync")
select_condstore(phone, SHARED, (validity, modseq))
heard = [d.decode() for d in phone.response("FETCH")[1] if isinstance(d, bytes)]
assert len(heard) == 1 and "UID 1 " in heard[0] and "\\Seen" in heard[0], heard
print("changedsince ok")

# The owner sees the MODSEQ move with nothing changed: the message stays unread for them.
ok(hong.enable("CONDSTORE"), "hong enables condstore")
select_condstore(hong, utf7(BOX))
changes = changed_since(hong, modseq)
assert list(changes) == [1] and "\\Seen" not in changes[1], changes
print("owner ok")

# Live: the phone (CONDSTORE) in IDLE hears kim's next mark on the desktop with its new
# MODSEQ; the owner's plain connection hears nothing of it.
plain = connect("hong")
ok(plain.select(utf7(BOX)), "hong's plain connection")
tag = phone._new_tag().decode()
phone.send((tag + " IDLE\r\n").encode())
assert phone.readline().startswith(b"+"), "IDLE continues"
ok(desktop.store("2", "+FLAGS", "(\\Seen)"), "kim reads 2")
line = phone.readline().decode()
assert re.match(r"\* 2 FETCH \(.*UID 2", line) and "\\Seen" in line and "MODSEQ" in line, line
phone.send(b"DONE\r\n")
while not (line := phone.readline()).startswith(tag.encode() + b" "):
    assert line.startswith(b"* "), line
assert line.startswith(tag.encode() + b" OK"), line
ok(plain.noop(), "hong's noop")
assert plain.response("FETCH")[1] == [None], plain.response("FETCH")
print("idle ok")
