"""Matrix object of the documents app: a release notice about person A1 (compound A1Y,
employer X), so place-scoped and unit-scoped grants both reach it; the public verify route
is named by the document's code."""
from __future__ import annotations

from fangkong.documents import actions
from fangkong.documents.models import Document


def document(cast):
    return actions.issue(acting_user=None, kind=Document.Kind.RELEASE, subject=cast.person_a1, title="解除医学观察通知书",
                         fields=[("姓名", "靶*甲"), ("身份证号", cast.person_a1.id_masked)], issuer="甲社区居民委员会",
                         holder="靶*甲")


OBJECTS = {Document: document}
URL_KWARGS = {"document_verify": lambda doc: {"code": doc.code}}
