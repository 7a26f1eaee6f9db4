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

# subtree: every mailbox of hong's that kim may read.
done = command("a2", 'NOTIFY SET (subtree "Other Users/hong" (MessageNew MessageExpunge))')
assert done[-1].startswith("a2 OK"), done
deliver("INBOX", 1)  # hong's own INBOX: not shared with kim
deliver(PLAN, 2)
status = next_status()
assert status.startswith(f"* STATUS {shared(PLAN)} (MESSAGES 1 UIDNEXT 2"), status
print("subtree ok")

# mailboxes: exactly the one named.
done = command("a3", f"NOTIFY SET (mailboxes {shared(NOTICE)} (MessageNew))")
assert done[-1].startswith("a3 OK"), done
deliver(PLAN, 3)
deliver(NOTICE, 4)
status = next_status()
assert status.startswith(f"* STATUS {shared(NOTICE)} (MESSAGES 1 UIDNEXT 2"), status
print("mailboxes ok")

# The rights are checked as each event is told: without "r" on 기획팀, nothing of it.
done = command("a4", f"NOTIFY SET (subtree \"Other Users/hong\" (MessageNew))")
assert done[-1].startswith("a4 OK"), done
ok(hong.setacl(utf7(PLAN), "kim", "l"), "take r away")
deliver(PLAN, 5)
deliver(NOTICE, 6)
status = next_status()
assert status.startswith(f"* STATUS {shared(NOTICE)} (MESSAGES 2 UIDNEXT 3"), status
noop = command("a5", "NOOP")
assert not any(re.match(r"\* STATUS", l) for l in noop), noop
print("notify on shared mailboxes ok")
