# NOTIFY (RFC 5465) on mailboxes another person shared: 홍길동 (hong) shares 공유/기획팀
# and 공유/공지 with 김철수 (kim) as "lr"; kim, on a raw connection, sets NOTIFY on
# hong's mailboxes and hears STATUS for hong's appends there, under their
# "Other Users/hong/..." names; hong's own INBOX, which kim may not see, stays silent; once
# hong takes "r" away from 기획팀, kim hears nothing more of it.
# The hub tells one account's changes in the order they were made, so "the next STATUS
# is 공지's" also says nothing was told of what came before it.
# Arguments: those of sharing.py.
import os, re, socket, ssl, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import CERTS, ca, connect, ok, password, port, utf7  # noqa: E402

PLAN, NOTICE = "공유/기획팀", "공유/공지"
hong = connect("hong")
for box in (PLAN, NOTICE):
    ok(hong.create(utf7(box)), "create " + box)
    ok(hong.setacl(utf7(box), "kim", "lr"), "share " + box)


def shared(box):
    return utf7("Other Users/hong/" + box)


def deliver(box, n):
    message = ("From: hong@test.go.kr\r\nTo: kim@test.go.kr\r\n"
               f"Subject: notice {n}\r\nMessage-ID: <notify{n}@test.go.kr>\r\n\r\n"
               "회의는 3시입니다.\r\n").encode()
    ok(hong.append(utf7(box), None, None, message), f"append {n} to {box}")


ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(*CERTS["kim"])
sock = ctx.wrap_socket(socket.create_connection(("localhost", int(port)), timeout=20),
                       server_hostname="localhost")
reader = sock.makefile("rb")


def line():
    text = reader.readline()
    assert text, "the server closed the connection"
    return text.decode("utf-8", "replace").rstrip("\r\n")


def command(tag, text):
    sock.sendall(f"{tag} {text}\r\n".encode())
    lines = []
    while True:
        lines.append(line())
        if lines[-1].startswith(tag + " "):
            return lines


def next_status():
    while True:
        text = line()
        if text.startswith("* STATUS "):
            return text


assert line().startswith("* OK"), "greeting"
assert command("a1", f'login kim "{password}"')[-1].startswith("a1 OK"), "kim signs in"

def hears(tag, watch, deliveries, box, messages, meanwhile=lambda: None):
    """NOTIFY SET `watch`, then `meanwhile`, then hong's `deliveries` (mailbox, number):
    the next STATUS kim hears must be `box`'s, now holding `messages` messages."""
    done = command(tag, f"NOTIFY SET {watch}")
    assert done[-1].startswith(tag + " OK"), done
    meanwhile()
    for mailbox, n in deliveries:
        deliver(mailbox, n)
    status = next_status()
    expected = f"* STATUS {shared(box)} (MESSAGES {messages} UIDNEXT {messages + 1}"
    assert status.startswith(expected), status


# subtree: every mailbox of hong's that kim may read; hong's own INBOX is not one.
subtree = '(subtree "Other Users/hong" (MessageNew MessageExpunge))'
hears("a2", subtree, [("INBOX", 1), (PLAN, 2)], PLAN, 1)
print("subtree ok")

# mailboxes: exactly the one named.
hears("a3", f"(mailboxes {shared(NOTICE)} (MessageNew))", [(PLAN, 3), (NOTICE, 4)], NOTICE, 1)
print("mailboxes ok")

# The rights are checked as each event is told: without "r" on 기획팀, nothing of it.
take_r = lambda: ok(hong.setacl(utf7(PLAN), "kim", "l"), "take r away")
hears("a4", subtree, [(PLAN, 5), (NOTICE, 6)], NOTICE, 2, take_r)
noop = command("a5", "NOOP")
assert not any(re.match(r"\* STATUS", l) for l in noop), noop
print("notify on shared mailboxes ok")
