"""The annotation loop with Label Studio: labeling config, push, pull, agreement, a local server.

Tasks
-----
Each task carries the stable id of what it shows in its data: ``case_id`` for a
corpus case, ``article_id`` for a news article, with ``kind`` saying which, and
``btr_hash``, a digest of the rest of the data. A push lists the project's
tasks, imports the ids it does not find, updates a task whose hash changed and
leaves the others alone, so pushing twice creates no duplicates.

State file
----------
``annotate/state/<project>.json`` (``--state-dir``) remembers, per case, the
task it went to and the *base*: the value of every annotated field when the
case was first pushed or last pulled (re-pushing a case whose text changed keeps
its base, so that a label edited locally meanwhile is never taken for unchanged). A pull is a three-way merge per field of the
base, the local corpus value and the adjudicated Label Studio value:

* nobody filled the field in Label Studio: the local value stays;
* the local value still equals the base: the Label Studio value is taken;
* the Label Studio value equals the base, or the local value: nothing to do;
* otherwise both sides changed it (a *local edit*): the local value stays and
  the pair goes to the conflicts file. The base then records the Label Studio
  value as seen, so the same conflict is reported once, not at every pull.

A case with no base (no state file, another server) counts every difference as
a local edit: the safe side. The state file holds no credentials.

Adjudication rule
-----------------
Skipped and cancelled annotations are dropped; of several annotations by one
annotator on a task, the latest counts. Per field, among the annotators who
filled it: a ground-truth annotation (the star a reviewer sets in Label Studio)
decides; otherwise a value chosen by more than half of them wins (with two
annotators they must agree); otherwise the field is a *disagreement*: it stays
as it is and goes to the conflicts file for a reviewer, who resolves it by
starring one annotation as ground truth, or by editing the corpus. Two
exceptions: notes are never adjudicated (each annotator's note is appended to
``curation.notes``, signed), and the free text that makes a new case out of an
article (names, posts, summaries) is taken from the latest annotation when the
texts differ; such a case is unverified until a curator checks it.

Conflicts file
--------------
JSON Lines (default ``annotate/state/<project>.conflicts.jsonl``), rewritten
at every pull and removed when a pull has none. ``kind`` is ``local_edit``,
``disagreement``, ``invalid`` (the merged record fails validation, or an
article lacks what a new case needs) or ``deleted_locally``. When there are
any, the CLI exits with code 3.
"""

from btr.labelstudio.adjudication import export_ratings
from btr.labelstudio.client import Connection, connect, ensure_project
from btr.labelstudio.config import (
    CONFIG_FILE,
    FIELDS,
    GUIDELINES,
    SERVE_DIR,
    STATE_DIR,
    guidelines_summary,
    labeling_config,
)
from btr.labelstudio.pull import PullResult, agreement_report, pull
from btr.labelstudio.push import PushResult, push
from btr.labelstudio.serve import ServeInfo, serve
from btr.labelstudio.tasks import article_task_data, case_task_data, read_articles

__all__ = [
    "CONFIG_FILE",
    "FIELDS",
    "GUIDELINES",
    "SERVE_DIR",
    "STATE_DIR",
    "Connection",
    "PullResult",
    "PushResult",
    "ServeInfo",
    "agreement_report",
    "article_task_data",
    "case_task_data",
    "connect",
    "ensure_project",
    "export_ratings",
    "guidelines_summary",
    "labeling_config",
    "pull",
    "push",
    "read_articles",
    "serve",
]
