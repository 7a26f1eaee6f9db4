# RFC 4314 rights matrix over real IMAP: 홍길동 (hong) owns the mailboxes, 김철수 (kim) uses
# them under "Other Users/hong/...". Each connection presents its own client certificate.
# Arguments: those of sharing.py.
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import answer, connect, ok, utf7  # noqa: E402


hong = connect("hong")
kim = connect("kim")
TEAM = "공유/기획팀"
SCRATCH = "공유/임시"
SHARED = lambda name: utf7("Other Users/hong/" + name)
MESSAGE = ("From: 홍길동 <hong@test.go.kr>\r\nSubject: 예산 보고\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n예산안을 검토해 주십시오.\r\n").encode()


for box in (TEAM, SCRATCH):
    ok(hong.create(utf7(box)), "create " + box)
for _ in range(3):
    ok(hong.append(utf7(TEAM), None, None, MESSAGE), "append")


def grant(rights, box=TEAM):
    ok(hong.setacl(utf7(box), "kim", rights), "setacl " + rights)


def selected(rights, readonly=False):
    grant(rights)
    kim.unselect() if kim.state == "SELECTED" else None
    ok(kim.select(SHARED(TEAM), readonly=readonly), "select with " + rights)


def refill():
    typ, data = hong.status(utf7(TEAM), "(MESSAGES)")
    if b"MESSAGES 0" in data[0]:
        ok(hong.append(utf7(TEAM), None, None, MESSAGE), "refill")


def listed(rights):
    grant(rights)
    typ, data = kim.list('"Other Users/hong/"', "*")
    return typ, (b" ".join(d for d in data if d).decode("ascii", "replace"))


def case_l(has):
    typ, text = listed("lr" if has else "r")
    # Listed with "l"; without it the mailbox is not shown at all.
    present = utf7("Other Users/hong/" + TEAM).strip('"') in text
    return ("OK", text) if present else ("NO", text)


def case_r(has):
    grant("lr" if has else "l")
    kim.unselect() if kim.state == "SELECTED" else None
    return answer(lambda: kim.select(SHARED(TEAM), readonly=True))


def store_case(flag, base):
    def run(has):
        right = {"\\Seen": "s", "\\Deleted": "t"}.get(flag, "w")
        selected(base + right if has else base)
        return answer(lambda: kim.store("1", "+FLAGS", "(" + flag + ")"))
    return run


def case_i(has):
    grant("lri" if has else "lr")
    return answer(lambda: kim.append(SHARED(TEAM), None, None, MESSAGE))


def case_copy_target(has):
    grant("lri" if has else "lr")
    kim.unselect() if kim.state == "SELECTED" else None
    ok(kim.append("INBOX", None, None, MESSAGE), "own append")
    ok(kim.select("INBOX"), "own select")
    return answer(lambda: kim.copy("1", SHARED(TEAM)))


def case_copy_source(has):
    grant("lr" if has else "l")
    kim.unselect() if kim.state == "SELECTED" else None
    if not has:
        return answer(lambda: kim.select(SHARED(TEAM)))
    ok(kim.select(SHARED(TEAM), readonly=True), "examine")
    return answer(lambda: kim.copy("1", "INBOX"))


def case_move(has):
    refill()
    selected("lrwste" if has else "lrwst")
    return answer(lambda: kim._simple_command("MOVE", "1", "INBOX"))


def case_e(has):
    refill()
    selected("lrste" if has else "lrst")
    ok(kim.store("1", "+FLAGS", "(\\Deleted)"), "flag deleted")
    return answer(lambda: kim.expunge())


def case_k(has):
    grant("lrk" if has else "lr")
    result = answer(lambda: kim.create(SHARED(TEAM + "/하위")))
    if result[0] == "OK":
        ok(hong.delete(utf7(TEAM + "/하위")), "owner cleans up")
    return result


def case_x(has):
    if "OK" != hong.status(utf7(SCRATCH), "(MESSAGES)")[0]:
        ok(hong.create(utf7(SCRATCH)), "recreate scratch")
    grant("lrx" if has else "lr", SCRATCH)
    return answer(lambda: kim.delete(SHARED(SCRATCH)))


def case_a(has):
    grant("lra" if has else "lr")
    return answer(lambda: kim.getacl(SHARED(TEAM)))


CASES = [
    ("l", "LIST", case_l),
    ("r", "SELECT", case_r),
    ("s", "STORE \\Seen", store_case("\\Seen", "lrw")),
    ("w", "STORE \\Flagged", store_case("\\Flagged", "lrs")),
    ("t", "STORE \\Deleted", store_case("\\Deleted", "lrs")),
    ("e", "EXPUNGE", case_e),
    ("i", "APPEND", case_i),
    ("i", "COPY into", case_copy_target),
    ("r", "COPY out of", case_copy_source),
    ("te", "MOVE out of", case_move),
    ("k", "CREATE", case_k),
    ("x", "DELETE", case_x),
    ("a", "GETACL", case_a),
]
for right, what, case in CASES:
    typ, text = case(True)
    assert typ == "OK", (what, "with", right, text)
    typ, text = case(False)
    assert typ == "NO", (what, "without", right, typ, text)
    if what != "LIST":
        assert "[NOPERM]" in text, (what, text)
        assert "right" in text and "ask hong" in text, (what, "the refusal says why", text)
    print("right", right, what, "ok")

# MYRIGHTS and the namespace.
grant("lrs")
kim.unselect() if kim.state == "SELECTED" else None
typ, data = kim.myrights(SHARED(TEAM))
assert typ == "OK" and b"lrs" in data[0], data
typ, data = kim.namespace()
assert b'(("Other Users/" "/"))' in data[0], data
# A mailbox kim holds no right on does not exist for kim.
ok(hong.deleteacl(utf7(TEAM), "kim"), "deleteacl")
typ, text = answer(lambda: kim.select(SHARED(TEAM)))
assert typ == "NO" and "NONEXISTENT" in text, text
typ, data = kim.list('"Other Users/"', "*")
assert utf7(TEAM).strip('"') not in b" ".join(d for d in data if d).decode(), data
print("acl matrix ok")
