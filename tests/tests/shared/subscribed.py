# Subscribing to another person's mailbox: 김철수 (kim) subscribes to 홍길동's (hong)
# 공유/공지 under "Other Users/hong/공유/공지"; LSUB and LIST (SUBSCRIBED) show it, and when
# hong takes the right back it leaves LSUB and shows as \NonExistent in LIST (SUBSCRIBED)
# (RFC 5258 §3.1); when hong renames it, kim's subscription follows it. Arguments: those
# of sharing.py.
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import answer, connect, ok, utf7  # noqa: E402

NOTICE, SECRET = "공유/공지", "공유/비밀"
SHARED = utf7("Other Users/hong/" + NOTICE)
WIRE = SHARED.strip('"').encode()
hong, kim = connect("hong"), connect("kim")
for box in (NOTICE, SECRET):
    ok(hong.create(utf7(box)), "create " + box)
ok(hong.setacl(utf7(NOTICE), "kim", "lr"), "share")


def lines(result):
    typ, data = result
    assert typ == "OK", data
    return [d for d in data if d]


def entry(found):
    """The LIST/LSUB line of the shared mailbox, or None."""
    return next((line for line in found if line.endswith(WIRE + b'"')), None)


ok(kim.subscribe(SHARED), "subscribe")
line = entry(lines(kim.lsub('""', "*")))
assert line is not None, "LSUB shows the subscribed shared mailbox"
line = entry(lines(kim.list('(SUBSCRIBED) ""', "*")))
assert line is not None and b"\\Subscribed" in line and b"\\NonExistent" not in line, line
line = entry(lines(kim.list('""', '"Other Users/*" RETURN (SUBSCRIBED)')))
assert line is not None and b"\\Subscribed" in line, line
assert entry(lines(hong.lsub('""', "*"))) is None, "the owner's subscriptions are their own"
print("subscribe ok")

# A mailbox kim holds no right on does not exist for kim; one kim may not see ("l") is
# refused with the right it needs.
typ, text = answer(lambda: kim.subscribe(utf7("Other Users/hong/" + SECRET)))
assert typ == "NO" and "NONEXISTENT" in text, text
ok(hong.setacl(utf7(SECRET), "kim", "r"), "read without lookup")
typ, text = answer(lambda: kim.subscribe(utf7("Other Users/hong/" + SECRET)))
assert typ == "NO" and "[NOPERM]" in text and '"l" right' in text, text
print("refusals ok")

# hong takes the right back: gone from LSUB, \NonExistent \Subscribed in LIST (SUBSCRIBED),
# absent from a plain LIST.
ok(hong.deleteacl(utf7(NOTICE), "kim"), "revoke")
assert entry(lines(kim.lsub('""', "*"))) is None, "a revoked mailbox leaves LSUB"
line = entry(lines(kim.list('(SUBSCRIBED) ""', "*")))
assert line is not None and b"\\NonExistent" in line and b"\\Subscribed" in line, line
assert entry(lines(kim.list('""', "*"))) is None, "nor is it in LIST"
# Granted again it is back; UNSUBSCRIBE takes it off both.
ok(hong.setacl(utf7(NOTICE), "kim", "lr"), "share again")
assert entry(lines(kim.lsub('""', "*"))) is not None
ok(kim.unsubscribe(SHARED), "unsubscribe")
assert entry(lines(kim.lsub('""', "*"))) is None
assert entry(lines(kim.list('(SUBSCRIBED) ""', "*"))) is None
line = entry(lines(kim.list('""', "*")))
assert line is not None and b"\\Subscribed" not in line, line
print("subscriptions ok")

# hong renames the mailbox kim subscribed to: kim's subscription follows it (as the
# access list does), so the folder stays in kim's list under its new name.
ok(kim.subscribe(SHARED), "subscribe again")
ok(hong.rename(utf7(NOTICE), utf7("공유/알림")), "hong renames it")
RENAMED = utf7("Other Users/hong/공유/알림").strip('"').encode()
found = lines(kim.lsub('""', "*"))
assert any(line.endswith(RENAMED + b'"') for line in found), found
assert entry(found) is None, "the old name is gone from LSUB"
line = next(line for line in lines(kim.list('(SUBSCRIBED) ""', "*")) if RENAMED in line)
assert b"\\Subscribed" in line and b"\\NonExistent" not in line, line
print("rename ok")
