"""The status page's "probably mislabelled" panel: the served version's label audit
(the most doubtful annotations, each linked to its task in Label Studio) and the
annotators' estimated accuracy. Its own block, so the page's other panels stay apart."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

SHOWN = 20  # suspects listed; `labelloop audit` lists them all


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _suspect_row(s: Mapping[str, Any], page: str | None) -> str:
    task = esc(s.get("task"))
    link = (f'<a href="{esc(page)}?task={task}" target="_blank" rel="noopener">task {task}</a>'
            if page else f"task {task}")
    return (f'<tr data-task="{task}"><td>{link}</td><td class="num">{esc(s.get("annotation"))}'
            f'</td><td>{esc(s.get("annotator") or "")}</td><td>{esc(s.get("given"))}</td>'
            f'<td>{esc(s.get("suggested"))}</td>'
            f'<td class="num">{float(s.get("score") or 0):.2f}</td></tr>')


def _suspects(q: Mapping[str, Any]) -> str:
    audit = q.get("audit") or {}
    if audit.get("status") != "done":
        return (f'<p class="muted">label audit {esc(audit.get("status"))}: '
                f'{esc(audit.get("reason"))}</p>')
    suspects = list(q.get("suspects") or [])
    if not suspects:
        return (f'<p class="muted">none: {esc(audit.get("audited"))} annotations audited, '
                f'no label doubted</p>')
    rows = "".join(_suspect_row(s, q.get("label_studio")) for s in suspects[:SHOWN])
    more = (f'<p class="muted">the {SHOWN} most doubtful of {len(suspects)}; all of them: '
            f'<code>labelloop audit DIR --project {esc(q.get("project"))}</code></p>'
            if len(suspects) > SHOWN else "")
    return (f'<p class="muted">{len(suspects)} of {esc(audit.get("audited"))} annotations '
            f'doubted by version <code>{esc(q.get("version"))}</code></p>'
            '<table class="suspects"><thead><tr><th>task</th><th class="num">annotation</th>'
            '<th>annotator</th><th>given</th><th>suggested</th><th class="num">score</th>'
            f'</tr></thead><tbody>{rows}</tbody></table>{more}')


def _annotators(q: Mapping[str, Any]) -> str:
    accuracy = q.get("annotators") or {}
    if not accuracy:
        return ""
    counts = q.get("annotations") or {}
    consensus = q.get("consensus") or {}
    # With one annotation a task nobody is compared with anybody: the "accuracy" would be
    # the method's prior (~0.5 for Dawid-Skene), not a measurement, so it is not shown.
    estimated = consensus.get("tasks_with_several") != 0
    method = consensus.get("method") or "consensus"
    order = sorted(accuracy.items(), key=lambda kv: kv[1]) if estimated else sorted(
        accuracy.items())
    rows = "".join(f'<tr data-annotator="{esc(who)}"><td>{esc(who)}</td><td class="num">'
                   f'{esc(counts.get(who, ""))}</td>'
                   + (f'<td class="num">{acc:.3f}</td>' if estimated else "") + "</tr>"
                   for who, acc in order)
    head = f'<th class="num">accuracy ({esc(method)})</th>' if estimated else ""
    note = "" if estimated else ('<p class="muted no-accuracy">no accuracy estimated: no '
                                 'task has several annotations to compare annotators on</p>')
    return (f'<div class="annotators"><h3>annotators</h3>{note}<table class="annotators">'
            f'<thead><tr><th>annotator</th><th class="num">annotations</th>{head}</tr>'
            f'</thead><tbody>{rows}</tbody></table></div>')


def quality_panel(p: Mapping[str, Any]) -> str:
    """The panel of one project (``p["quality"]``; nothing when no version serves)."""
    q = p.get("quality")
    if not q:
        return ""
    return (f'<div class="quality"><div class="mislabelled"><h3>probably mislabelled</h3>'
            f'{_suspects(q)}</div>{_annotators(q)}</div>')


QUALITY_STYLE = """
.quality{display:flex;gap:24px;flex-wrap:wrap;margin-top:14px}
.quality .mislabelled{flex:2;min-width:420px}
.quality .annotators{flex:1;min-width:240px}
.quality p{margin:0 0 4px}
table.suspects,table.annotators{width:100%;border-collapse:collapse}
table.suspects th,table.annotators th{text-align:left;font-size:12px;color:var(--muted);
border-bottom:2px solid var(--line);padding:4px 8px}
table.suspects td,table.annotators td{padding:4px 8px;border-bottom:1px solid #eaeef2}
.quality .num{text-align:right;font-variant-numeric:tabular-nums}
.quality a{color:var(--accent)}
"""
