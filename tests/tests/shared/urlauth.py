# URLAUTH (RFC 4467) between two people, each with their own certificate: 홍길동 (hong)
# signs URLs of a message in his INBOX; 김철수 (kim) fetches them with URLFETCH as the
# access identifiers allow; RESETKEY ends them. Then kim signs a URL of a mailbox hong
# shared with him, and it stops working once hong takes the share back. URLFETCH's
# RFC 5524 form gives kim an attachment decoded.
# Arguments: those of sharing.py.
import base64, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import connect, ok, utf7  # noqa: E402


def command(m, line):
    """Sends `line`; the untagged responses (literals inlined) and the tagged one."""
    tag = m._new_tag().decode()
    m.send(f"{tag} {line}\r\n".encode())
    lines = []
    while True:
        got = m.readline()
        while (lit := re.search(rb"\{(\d+)\}\r\n$", got)):
            got = got + m.read(int(lit.group(1))) + m.readline()
        if got.startswith(tag.encode() + b" "):
            return lines, got.decode().strip()
        lines.append(got)


def sign(m, rump):
    lines, tagged = command(m, f'GENURLAUTH "{rump}" INTERNAL')
    assert " OK " in tagged, (rump, tagged)
    return re.match(rb'\* GENURLAUTH "([^"]+)"', lines[0]).group(1).decode()


def fetch(m, url):
    """The content kim gets for `url` (None for NIL) and the tagged line."""
    lines, tagged = command(m, f'URLFETCH "{url}"')
    assert " OK " in tagged, tagged
    head, _, rest = lines[0].partition(b"\r\n")
    return (None if head.endswith(b" NIL\r\n") or head.endswith(b" NIL") else rest), tagged


hong, kim = connect("hong"), connect("kim")
body = "From: 홍길동 <hong@test.go.kr>\r\nSubject: 예산 보고서\r\n\r\n예산안 첨부\r\n".encode()
ok(hong.append("INBOX", None, None, body), "append")
ok(hong.select("INBOX"), "select")
uid = ok(hong.uid("SEARCH", None, "ALL"), "search")[0].split()[-1].decode()
base = f"imap://hong@localhost/INBOX/;uid={uid};urlauth="
urls = {access: sign(hong, base + access) for access in ("authuser", "user+kim", "user+hong")}
got, _ = fetch(kim, urls["authuser"])
assert got is not None and "예산안 첨부".encode() in got, got
got, _ = fetch(kim, urls["user+kim"])
assert got is not None and "예산안 첨부".encode() in got, got
got, tagged = fetch(kim, urls["user+hong"])
assert got is None and "names another user" in tagged, tagged
# URLAUTH=BINARY (RFC 5524): kim gets an attachment of hong's decoded, with its structure
# describing the decoded octets, each in its own list.
attachment = "예산안 첨부 파일".encode()
mime = (
    "From: 홍길동 <hong@test.go.kr>\r\nSubject: 첨부\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
    "본문\r\n--b\r\nContent-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
).encode() + base64.b64encode(attachment) + b"\r\n--b--\r\n"
ok(hong.append("INBOX", None, None, mime), "append the attachment")
ok(hong.select("INBOX"), "select again")
uid2 = ok(hong.uid("SEARCH", None, "ALL"), "search")[0].split()[-1].decode()
part = sign(hong, f"imap://hong@localhost/INBOX/;uid={uid2}/;section=2;urlauth=user+kim")
lines, tagged = command(kim, f'URLFETCH ("{part}" BINARY BODYPARTSTRUCTURE)')
assert " OK " in tagged, tagged
structure = f'(BODYPARTSTRUCTURE ("application" "octet-stream" NIL NIL NIL "8bit" {len(attachment)}'
want = f' (BINARY {{{len(attachment)}}}\r\n'.encode() + attachment + b")\r\n"
assert structure.encode() in lines[0] and lines[0].endswith(want), lines
ok(hong.xatom("RESETKEY", "INBOX"), "resetkey")
got, tagged = fetch(kim, urls["authuser"])
assert got is None and "access key was reset" in tagged, tagged

# kim's URL of hong's shared mailbox is read with kim's rights, while he has them.
ok(hong.setacl("INBOX", "kim", "lr"), "share with kim")
shared = "Other%20Users/hong/INBOX"
url = sign(kim, f"imap://kim@localhost/{shared}/;uid={uid};urlauth=authuser")
got, _ = fetch(hong, url)
assert got is not None and "예산안 첨부".encode() in got, got
ok(hong.deleteacl("INBOX", "kim"), "unshare")
got, tagged = fetch(hong, url)
assert got is None and "mailbox does not exist" in tagged, tagged
print("urlauth ok")
