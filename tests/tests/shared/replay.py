# Replays a C:/S: transcript (see thunderbird_other_users.txt and
# thunderbird_other_users_real.txt) as 김철수 (kim) over
# implicit TLS with kim's client certificate, after 홍길동 (hong) set up the shared
# mailbox 공유/기획팀: two messages, the first read by hong, shared with kim as "lrs".
# Afterwards hong's own \Seen is checked: kim's reading changed nothing for hong.
# Arguments: those of sharing.py, then the transcript's path.
import os, re, socket, ssl, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import CERTS, ca, connect, ok, password, port, utf7  # noqa: E402

BOX = "공유/기획팀"
hong = connect("hong")
ok(hong.create(utf7(BOX)), "create")
for n, flags in ((1, "(\\Seen)"), (2, None)):
    message = ("From: =?UTF-8?B?7ZmN6ri464+Z?= <hong@test.go.kr>\r\nTo: kim@test.go.kr\r\n"
               f"Subject: =?UTF-8?B?7JiI7IKwIOuztOqzoA==?= {n}\r\nMessage-ID: <tb{n}@test.go.kr>\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n예산안을 검토해 주십시오.\r\n").encode()
    ok(hong.append(utf7(BOX), flags, None, message), "append")
ok(hong.setacl(utf7(BOX), "kim", "lrs"), "share")
shared = utf7("Other Users/hong/" + BOX).strip('"')

ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(*CERTS["kim"])
sock = ctx.wrap_socket(socket.create_connection(("localhost", int(port)), timeout=20),
                       server_hostname="localhost")
reader = sock.makefile("rb")


def response_lines(tag):
    """The lines answering the command `tag`, literals split into their own lines."""
    lines = []
    while True:
        line = reader.readline()
        assert line, "the server closed the connection"
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(text)
        literal = re.search(r"\{(\d+)\}$", text)
        if literal:
            body = reader.read(int(literal.group(1))).decode("utf-8", "replace")
            lines.extend(body.splitlines())
            continue
        if text.startswith(tag + " "):
            return lines


assert reader.readline().startswith(b"* OK"), "greeting"
sock.sendall(f'0 login kim "{password}"\r\n'.encode())
assert response_lines("0")[-1].startswith("0 OK"), "kim signs in"

steps = []
for raw in open(sys.argv[10], encoding="utf-8"):
    raw = raw.rstrip("\n").replace("{SHARED}", shared)
    if raw.startswith("C: "):
        steps.append((raw[3:], [], []))
    elif raw.startswith("S: "):
        steps[-1][1].append(re.compile(raw[3:].replace("{SHARED}", re.escape(shared))))
    elif raw.startswith("S!: "):
        steps[-1][2].append(re.compile(raw[4:].replace("{SHARED}", re.escape(shared))))
for command, expected, absent in steps:
    tag = command.split(" ", 1)[0]
    sock.sendall(command.encode() + b"\r\n")
    got = response_lines(tag)
    at = 0
    for pattern in expected:
        while at < len(got) and not pattern.search(got[at]):
            at += 1
        assert at < len(got), (command, "expected", pattern.pattern, "in order, got", got)
    for pattern in absent:
        assert not any(pattern.search(line) for line in got), (command, "not", pattern.pattern, got)
    print("step", tag, "ok")

# kim's reading is kim's: hong still sees message 1 read and message 2 unread.
ok(hong.select(utf7(BOX)), "hong opens it")
typ, data = hong.fetch("1:2", "(FLAGS)")
assert b"\\Seen" in data[0] and b"\\Seen" not in data[1], data
print("thunderbird transcript ok")
