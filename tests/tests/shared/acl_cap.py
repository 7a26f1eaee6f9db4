# The cap on a mailbox's access list ([imap] max_acl_entries = 2 in this installation):
# 홍길동 (hong) shares 공유/예산 with 김철수 (kim) and 이순신 (lee); a third person (park)
# is refused NO [LIMIT] with a sentence; changing or removing an entry still works.
# Arguments: those of sharing.py.
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sharing import answer, connect, ok, utf7  # noqa: E402

BOX = utf7("공유/예산")
hong = connect("hong")
ok(hong.create(BOX), "create")
ok(hong.setacl(BOX, "kim", "lr"), "kim")
ok(hong.setacl(BOX, "lee", "lr"), "lee")
typ, text = answer(lambda: hong.setacl(BOX, "park", "lr"))
assert typ == "NO" and "[LIMIT]" in text, text
assert "max_acl_entries = 2" in text and "take someone off" in text, text
typ, data = hong.getacl(BOX)
assert b"park" not in data[0], data
ok(hong.setacl(BOX, "kim", "lrs"), "changing an entry at the cap")
ok(hong.deleteacl(BOX, "lee"), "removing one")
ok(hong.setacl(BOX, "park", "lr"), "room again: the list (kim, park) is full again")
print("acl cap ok")
