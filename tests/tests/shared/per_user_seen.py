# Per-user \Seen on a shared mailbox (RFC 4314 §4 leaves it to the server; certmail keeps it
# per user): 홍길동 (hong) owns 공유/민원 and shares it with 김철수 (kim, "lrswt") and 이순신
# (lee, "lrs"). What one of them reads stays unread for the others, in FETCH FLAGS, the
# implicit \Seen of BODY[], STORE, SEARCH SEEN/UNSEEN, STATUS UNSEEN and SELECT's UNSEEN.
# Arguments: those of sharing.py.
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import connect, ok, utf7  # noqa: E402

BOX = "공유/민원"
SHARED = utf7("Other Users/hong/" + BOX)
hong, kim, lee = connect("hong"), connect("kim"), connect("lee")
ok(hong.create(utf7(BOX)), "create")
for n in (1, 2, 3):
    message = (f"From: 홍길동 <hong@test.go.kr>\r\nSubject: 민원 {n}호\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n처리 부탁드립니다.\r\n").encode()
    ok(hong.append(utf7(BOX), None, None, message), "append")
ok(hong.setacl(utf7(BOX), "kim", "lrswt"), "share with kim")
ok(hong.setacl(utf7(BOX), "lee", "lrs"), "share with lee")


def flags(m, seq):
    data = ok(m.fetch(seq, "(FLAGS)"), "fetch flags")
    return data[0].decode()


def search(m, key):
    return ok(m.search(None, key), "search " + key)[0].split()


def unseen_status(m, name):
    return ok(m.status(name, "(UNSEEN)"), "status")[0].decode()


def selected(m, name):
    ok(m.select(name), "select")
    return m.response("UNSEEN")[1]


# kim reads message 1: the body fetch marks it seen for kim alone.
assert selected(kim, SHARED) == [b"1"], "nothing read yet: the first unseen is 1"
data = ok(kim.fetch("1", "(BODY[])"), "kim reads 1")
assert b"\\Seen" in b" ".join(p if isinstance(p, bytes) else b" ".join(p) for p in data), data
assert "\\Seen" in flags(kim, "1")
assert search(kim, "SEEN") == [b"1"] and search(kim, "UNSEEN") == [b"2", b"3"]
assert selected(hong, utf7(BOX)) == [b"1"], "the owner has read nothing"
assert "\\Seen" not in flags(hong, "1"), flags(hong, "1")
assert search(hong, "SEEN") == []
print("implicit seen ok")

# hong reads message 2: kim's view of it stays unread.
ok(hong.store("2", "+FLAGS", "(\\Seen)"), "hong reads 2")
assert "\\Seen" not in flags(kim, "2"), flags(kim, "2")
assert "UNSEEN 2" in unseen_status(kim, SHARED), unseen_status(kim, SHARED)
assert "UNSEEN 2" in unseen_status(hong, utf7(BOX)), unseen_status(hong, utf7(BOX))
assert selected(lee, SHARED) == [b"1"], "lee has read nothing"
assert "UNSEEN 3" in unseen_status(lee, SHARED), unseen_status(lee, SHARED)
print("status and select ok")

# kim's STORE: \Seen is kim's, \Flagged is everyone's; FLAGS (replace) keeps the owner's
# \Seen as it was.
typ, data = kim.store("3", "+FLAGS", "(\\Seen \\Flagged)")
assert typ == "OK" and b"\\Seen" in data[0] and b"\\Flagged" in data[0], data
assert "\\Flagged" in flags(hong, "3") and "\\Seen" not in flags(hong, "3"), flags(hong, "3")
assert "\\Flagged" in flags(lee, "3") and "\\Seen" not in flags(lee, "3"), flags(lee, "3")
ok(kim.store("2", "FLAGS", "(\\Answered)"), "kim replaces 2's flags")
assert "\\Answered" in flags(kim, "2") and "\\Seen" not in flags(kim, "2"), flags(kim, "2")
assert "\\Answered" in flags(hong, "2") and "\\Seen" in flags(hong, "2"), flags(hong, "2")
print("store ok")

# kim's second connection (Thunderbird keeps several) sees kim's \Seen, and hears kim's
# change live; the owner's connection hears nothing of it as \Seen.
kim2 = connect("kim")
ok(kim2.select(SHARED), "kim's second connection")
assert "\\Seen" in flags(kim2, "3"), flags(kim2, "3")
ok(kim.store("1", "-FLAGS", "(\\Seen)"), "kim marks 1 unread")
ok(kim2.noop(), "noop")
heard = b" ".join(d for d in kim2.response("FETCH")[1] if d)
assert b"1 (" in heard and b"\\Seen" not in heard, heard
assert search(kim, "UNSEEN") == [b"1", b"2"], search(kim, "UNSEEN")
ok(hong.noop(), "noop")
assert search(hong, "SEEN") == [b"2"], search(hong, "SEEN")
# CONDSTORE: MODSEQ answers beside the reader's own \Seen (seen_modseq.py tests how it moves).
data = ok(kim.fetch("3", "(FLAGS MODSEQ)"), "modseq")
assert b"MODSEQ (" in data[0] and b"\\Seen" in data[0], data
print("per-user seen ok")
