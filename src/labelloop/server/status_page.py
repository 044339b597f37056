"""The status page as HTML: pure functions from :meth:`Backend.status` to one document.

Everything is rendered on the server (inline CSS, inline SVG, no script, nothing fetched),
so the page works offline and needs no build step. Every value from the stores, however
harmless it looks, reaches the page through :func:`esc`: job errors carry arbitrary text
from model code.

>>> wants_html("text/html,application/xhtml+xml,*/*;q=0.8"), wants_html("*/*")
(True, False)
>>> esc('<b title="x">')
'&lt;b title=&quot;x&quot;&gt;'
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from labelloop.server.quality_panel import QUALITY_STYLE, quality_panel

IDLE_REFRESH_S = 10
BUSY_REFRESH_S = 2  # a job runs: its progress bar should move
MAX_REFRESH_S = 3600
SERVE_ACTION = "status/serve"  # relative: works behind a proxy that adds a path prefix
STATUSES = ("ok", "rejected", "error", "incomplete")

Project = Mapping[str, Any]


def esc(value: object) -> str:
    """Text and attribute values alike (quotes escaped too); None is empty."""
    return html.escape("" if value is None else str(value), quote=True)


# -- content negotiation ----------------------------------------------------------------
def _accept_weights(accept: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    return weights


def wants_html(accept: str | None) -> bool:
    """A browser asks for HTML by name; API clients send ``*/*`` or JSON (JSON wins ties).

    >>> wants_html("application/json, text/html"), wants_html(None)
    (False, False)
    """
    weights = _accept_weights(accept or "")
    html_q = max(weights.get("text/html", 0.0), weights.get("application/xhtml+xml", 0.0))
    return html_q > 0 and html_q > weights.get("application/json", 0.0)


def refresh_param(value: str | None) -> int | None:
    """``?refresh=N``: seconds between reloads, 0 = paused; anything else = automatic.

    >>> refresh_param("0"), refresh_param("99999"), refresh_param("²"), refresh_param(None)
    (0, 3600, None, None)
    """
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return min(int(value), MAX_REFRESH_S)


def auto_refresh(projects: Iterable[Project]) -> int:
    busy = any(p.get("running") or p.get("queued") for p in projects)
    return BUSY_REFRESH_S if busy else IDLE_REFRESH_S


# -- formatting -------------------------------------------------------------------------
def fmt_score(score: object) -> str:
    return f"{score:.3f}" if isinstance(score, (int, float)) else "–"


def fmt_count(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) else "–"


def fmt_seconds(seconds: object) -> str:
    if not isinstance(seconds, (int, float)):
        return "–"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds / 60:.1f} min"


def fmt_age(ts: object, now: float) -> str:
    """How long ago, in the largest unit that is at least 1.

    >>> fmt_age(100.0, 190.0), fmt_age(0.0, 7300.0), fmt_age(None, 1.0)
    ('1 min ago', '2 h ago', '–')
    """
    if not isinstance(ts, (int, float)):
        return "–"
    age = max(0.0, now - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if age >= size:
            return f"{int(age // size)} {unit} ago"
    return f"{int(age)} s ago"


def fmt_utc(ts: object) -> str:
    if not isinstance(ts, (int, float)):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _status_badge(status: object) -> str:
    name = str(status) if status in STATUSES else "unknown"
    return f'<span class="badge st-{name}">{esc(status)}</span>'


# -- the versions table -----------------------------------------------------------------
def serve_form(project: str, version: str, label: str, csrf: str) -> str:
    """A POST form: a button must not be a link, or a crawler or prefetch could press it."""
    return (f'<form method="post" action="{SERVE_ACTION}" class="serve">'
            f'<input type="hidden" name="project" value="{esc(project)}">'
            f'<input type="hidden" name="version" value="{esc(version)}">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<button type="submit" class="{esc(label.replace(" ", ""))}" '
            f'data-version="{esc(version)}">{esc(label)}</button></form>')


def _action(project: str, v: Mapping[str, Any], served: str | None, csrf: str) -> str:
    version = str(v.get("version"))
    if v.get("current"):
        return '<span class="muted">serving</span>'
    if v.get("status") == "rejected":
        return serve_form(project, version, "promote", csrf)
    if v.get("status") != "ok":
        return ""
    # Versions are Unix times: "roll back" only reads right for an older one.
    older = served is not None and version.isdigit() and served.isdigit() and (
        int(version) < int(served))
    return serve_form(project, version, "roll back" if older else "serve", csrf)


def _decision(v: Mapping[str, Any]) -> str:
    if v.get("error"):
        return f'<span class="err">{esc(v["error"])}</span>'
    if v.get("status") == "incomplete":
        return '<span class="muted">no result yet (training, or the job was killed)</span>'
    return esc(v.get("decision") or "")


_EVAL_METHODS = {"kfold": "cross-validation on the training annotations",
                 "holdout": "held-out annotations", "skipped": "not evaluated"}


def _version_row(project: str, v: Mapping[str, Any], served: str | None, csrf: str,
                 now: float) -> str:
    version = esc(v.get("version"))
    status = str(v.get("status"))
    marks = ""
    if v.get("current"):
        marks += ' <span class="badge served-mark">served</span>'
    if v.get("pinned"):
        marks += ' <span class="badge pin">pinned</span>'
    classes = f"version st-row-{esc(status)}" + (" served" if v.get("current") else "")
    method = _EVAL_METHODS.get(str(v.get("evaluation")), "")
    return (
        f'<tr class="{classes}" data-version="{version}" data-status="{esc(status)}">'
        f'<td class="ver"><code title="{esc(v.get("model_version"))}">{version}</code>{marks}</td>'
        f'<td title="{esc(fmt_utc(v.get("created")))}">{esc(fmt_age(v.get("created"), now))}</td>'
        f'<td>{_status_badge(status)}</td>'
        f'<td class="num">{esc(fmt_count(v.get("n_train")))}</td>'
        f'<td class="num" title="{esc(method)}">{esc(fmt_count(v.get("n_eval")))}</td>'
        f'<td>{esc(v.get("primary") or "–")}</td>'
        f'<td class="num score">{esc(fmt_score(v.get("score")))}</td>'
        f'<td class="num">{esc(fmt_seconds(v.get("time")))}</td>'
        f'<td class="decision">{_decision(v)}</td>'
        f'<td class="act">{_action(project, v, served, csrf)}</td></tr>')


def versions_table(p: Project, csrf: str, now: float) -> str:
    versions = list(p.get("versions") or [])
    if not versions:
        return '<p class="muted">no versions yet</p>'
    served = next((str(v.get("version")) for v in versions if v.get("current")), None)
    project = str(p.get("project"))
    rows = "".join(_version_row(project, v, served, csrf, now) for v in reversed(versions))
    return ('<table class="versions"><thead><tr><th>version</th><th>created</th>'
            '<th>status</th><th class="num">trained on</th><th class="num">evaluated on</th>'
            '<th>metric</th><th class="num">score</th><th class="num">took</th>'
            f'<th>decision</th><th></th></tr></thead><tbody>{rows}</tbody></table>')


# -- the learning curve -----------------------------------------------------------------
CURVE_W, CURVE_H = 460, 210
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 18, 16, 40


def nice_step(span: float, ticks: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) for about ``ticks`` ticks.

    >>> nice_step(26), nice_step(1000), nice_step(0)
    (10.0, 500.0, 1.0)
    """
    raw = span / ticks
    if raw <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _scored(versions: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [v for v in versions if isinstance(v.get("score"), (int, float))]


def _x_axis(x_max: float, x_of: Any) -> str:
    step = max(1.0, nice_step(x_max))
    out = []
    tick = 0.0
    while tick <= x_max + 1e-9:
        x = x_of(tick)
        out.append(f'<line class="tick" x1="{x:.1f}" y1="{CURVE_H - _BOTTOM}" x2="{x:.1f}" '
                   f'y2="{CURVE_H - _BOTTOM + 4}"/><text class="tl" x="{x:.1f}" '
                   f'y="{CURVE_H - _BOTTOM + 16}" text-anchor="middle">{tick:,.0f}</text>')
        tick += step
    return "".join(out)


def _y_axis(y_of: Any) -> str:
    out = []
    for score in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(score)
        out.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{CURVE_W - _RIGHT}" '
                   f'y2="{y:.1f}"/><text class="tl" x="{_LEFT - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{score:g}</text>')
    return "".join(out)


def _point(v: Mapping[str, Any], x: float, y: float) -> str:
    served = bool(v.get("current"))
    status = str(v.get("status")) if v.get("status") in STATUSES else "unknown"
    label = (f'version {v.get("version")}: {v.get("primary") or "score"} '
             f'{fmt_score(v.get("score"))} after {fmt_count(v.get("n_train"))} annotations'
             f'{" (served)" if served else ""}')
    label_y = y - 13 if y - 13 > _TOP else y + 21  # a score near 1: below, not cut off
    ring = (f'<circle class="served-ring" cx="{x:.1f}" cy="{y:.1f}" r="9"/>'
            f'<text class="served-label" x="{x:.1f}" y="{label_y:.1f}" '
            'text-anchor="middle">served</text>') if served else ""
    return (f'{ring}<circle class="point pt-{status}{" served" if served else ""}" '
            f'data-version="{esc(v.get("version"))}" data-score="{esc(v.get("score"))}" '
            f'cx="{x:.1f}" cy="{y:.1f}" r="{5 if served else 4}"><title>{esc(label)}</title>'
            '</circle>')


def learning_curve(p: Project) -> str:
    """Primary score (y, 0 to 1) against annotations trained on (x), one point per scored
    version, joined in the order the versions were made."""
    points = _scored(p.get("versions") or [])
    if not points:
        return ('<div class="curve empty muted">no version has a score yet (versions are '
                'scored once enough annotations can be held out)</div>')
    # Headroom past the largest count keeps the newest point off the frame.
    n_max = max(float(v.get("n_train") or 0) for v in points) * 1.1 or 1.0
    step = max(1.0, nice_step(n_max))
    x_max = step * math.ceil(n_max / step)
    width, height = CURVE_W - _LEFT - _RIGHT, CURVE_H - _TOP - _BOTTOM

    def x_of(n: float) -> float:
        return _LEFT + width * n / x_max

    def y_of(score: float) -> float:
        return _TOP + height * (1.0 - min(max(score, 0.0), 1.0))

    xy = [(x_of(float(v.get("n_train") or 0)), y_of(float(v["score"]))) for v in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    metrics = {str(v.get("primary")) for v in points if v.get("primary")}
    y_label = metrics.pop() if len(metrics) == 1 else "score"
    dots = "".join(_point(v, x, y) for v, (x, y) in zip(points, xy, strict=True))
    return (
        f'<svg class="curve" viewBox="0 0 {CURVE_W} {CURVE_H}" width="{CURVE_W}" '
        f'height="{CURVE_H}" role="img" data-project="{esc(p.get("project"))}" '
        f'aria-label="learning curve of project {esc(p.get("project"))}">'
        f'{_y_axis(y_of)}{_x_axis(x_max, x_of)}'
        f'<line class="axis" x1="{_LEFT}" y1="{CURVE_H - _BOTTOM}" x2="{CURVE_W - _RIGHT}" '
        f'y2="{CURVE_H - _BOTTOM}"/>'
        f'<text class="al" x="{_LEFT + width / 2:.1f}" y="{CURVE_H - 6}" '
        'text-anchor="middle">annotations trained on</text>'
        f'<text class="al" transform="translate(13 {_TOP + height / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{esc(y_label)}</text>'
        f'<polyline class="line" points="{line}"/>{dots}</svg>')


# -- jobs and failures ------------------------------------------------------------------
def _job_title(job: Mapping[str, Any]) -> str:
    kind = "re-scoring" if job.get("kind") == "rescore" else "training"
    return (f'<strong>{kind}</strong> job <code>{esc(str(job.get("job_id") or "")[:8])}'
            f'</code> <span class="muted">· from {esc(job.get("source"))}</span>')


def _running(job: Mapping[str, Any], now: float) -> str:
    fraction = job.get("fraction")
    if isinstance(fraction, (int, float)):
        share = min(max(float(fraction), 0.0), 1.0)
        bar = (f'<progress max="1" value="{share:.3f}">{share:.0%}</progress>'
               f'<span class="pct">{share:.0%}</span>')
    else:  # no progress reported yet: an indeterminate bar
        bar = '<progress></progress><span class="pct">…</span>'
    return (f'<div class="job running" data-job="{esc(job.get("job_id"))}">'
            f'<div>{_job_title(job)} <span class="muted">· started '
            f'{esc(fmt_age(job.get("started") or job.get("created"), now))}</span></div>'
            f'<div class="bar">{bar}</div>'
            f'<div class="job-message">{esc(job.get("message") or "")}</div></div>')


def job_panel(p: Project, now: float) -> str:
    running, queued = p.get("running"), p.get("queued")
    parts = []
    if running:
        parts.append(_running(running, now))
    if queued:
        parts.append(f'<div class="job queued" data-job="{esc(queued.get("job_id"))}">'
                     f'{_job_title(queued)} <span class="muted">· queued '
                     f'{esc(fmt_age(queued.get("created"), now))}</span></div>')
    if not parts:
        return '<div class="job idle muted">no job running or queued</div>'
    return "".join(parts)


def _failure(job: Mapping[str, Any], decisions: Mapping[str, str], now: float) -> str:
    rejected = job.get("outcome") == "rejected"
    version = job.get("version")
    # A rejected version's reason is its promotion decision; a failure's is its error.
    message = (decisions.get(str(version)) if rejected else None) or job.get("error") or ""
    what = "rejected" if rejected else "failed"
    where = f' version <code>{esc(version)}</code>' if version else ""
    return (f'<li class="failure {what}"><span class="badge st-'
            f'{"rejected" if rejected else "error"}">{what}</span>{where} '
            f'<span class="muted" title="{esc(fmt_utc(job.get("ended")))}">· '
            f'{esc(fmt_age(job.get("ended") or job.get("created"), now))}</span>'
            f'<div class="message">{esc(message)}</div></li>')


def failures_list(p: Project, now: float) -> str:
    failures = list(p.get("failures") or [])
    if not failures:
        return '<div class="failures"><h3>last failures</h3><p class="muted">none</p></div>'
    decisions = {str(v.get("version")): str(v.get("decision") or "")
                 for v in p.get("versions") or []}
    items = "".join(_failure(f, decisions, now) for f in failures)
    return f'<div class="failures"><h3>last failures</h3><ul>{items}</ul></div>'


# -- the page ---------------------------------------------------------------------------
def project_section(p: Project, csrf: str, now: float) -> str:
    project = esc(p.get("project"))
    return (f'<section class="project" id="project-{project}" data-project="{project}">'
            f'<h2>Project {project} <span class="serving">serving '
            f'<code>{esc(p.get("model_version"))}</code></span></h2>'
            f'<div class="overview">{learning_curve(p)}<div class="side"><h3>job</h3>'
            f'{job_panel(p, now)}{failures_list(p, now)}</div></div>'
            f'{versions_table(p, csrf, now)}{quality_panel(p)}</section>')


def _refresh_note(refresh: int) -> str:
    if refresh == 0:
        return 'auto-refresh paused · <a href="status">resume</a>'
    return f'refreshes every {refresh} s · <a href="status?refresh=0">pause</a>'


# -- the Connection panel ----------------------------------------------------------------
CHECK_BADGES = {"ok": "ok", "warn": "rejected", "fail": "error", "skip": "incomplete"}


def connection_panel(reports: Mapping[str, Mapping[str, Any]], age: float | None) -> str:
    """``labelloop doctor``'s checks by project (``Report.to_dict()``); ``age``: seconds
    since they ran (None: not yet). Every text goes through :func:`esc`."""
    if age is None:
        body = '<p class="muted">checking the connection to Label Studio…</p>'
    else:
        body = "".join(_connection_table(name, r) for name, r in reports.items())
    when = f" · checked {int(age)} s ago" if age is not None else ""
    return (f'<section class="connection" id="connection"><h2>Connection'
            f'<span class="serving">the checks of labelloop doctor{when}</span></h2>'
            f'{body}</section>')


def _connection_table(name: str, report: Mapping[str, Any]) -> str:
    rows = []
    for c in report.get("checks") or []:
        status = str(c.get("status"))
        fix = c.get("fix") if status != "ok" else None
        rows.append(f'<tr class="check ck-{esc(status)}" data-check="{esc(c.get("name"))}">'
                    f'<td><span class="badge st-{CHECK_BADGES.get(status, "unknown")}">'
                    f'{esc(status)}</span></td><td><code>{esc(c.get("name"))}</code></td>'
                    f'<td>{esc(c.get("seen"))}'
                    + (f'<div class="fix">fix: {esc(fix)}</div>' if fix else "")
                    + "</td></tr>")
    return (f'<h3>{esc(name)}</h3><table class="checks" data-project="{esc(name)}">'
            f'<tbody>{"".join(rows)}</tbody></table>')



def render_page(projects: list[dict[str, Any]], *, csrf: str, about: Mapping[str, Any],
                refresh: int | None = None, now: float | None = None,
                connection: str = "") -> str:
    """The whole document. ``refresh``: None picks it (short while a job runs), 0 = off."""
    now = time.time() if now is None else now
    seconds = auto_refresh(projects) if refresh is None else refresh
    meta = f'<meta http-equiv="refresh" content="{seconds}">' if seconds else ""
    body = "".join(project_section(p, csrf, now) for p in projects) or (
        '<p class="muted">no project has a model version yet: connect the backend in Label '
        'Studio and annotate, or press Start Training.</p>')
    body += connection
    about_text = " · ".join(esc(part) for part in (
        about.get("model_class"), about.get("api"),
        f"{about['mode']} mode" if about.get("mode") else None,
        f"labelloop {about['version']}" if about.get("version") else None) if part)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'{meta}<link rel="icon" href="data:,"><title>labelloop · status</title>'
        f'<style>{STYLE}{QUALITY_STYLE}</style></head><body>'
        f'<header class="top"><h1>labelloop</h1><span class="about">{about_text}</span>'
        f'<span class="refresh">{_refresh_note(seconds)}</span></header>'
        f'<main>{body}</main><footer>rendered {esc(fmt_utc(now))}</footer></body></html>')


STYLE = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--okbg:#dafbe1;
--rej:#9a6700;--rejbg:#fff8c5;--err:#cf222e;--errbg:#ffebe9;--inc:#57606a;--incbg:#eaeef2;
--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",
"Noto Sans CJK SC",sans-serif;color:var(--fg);background:var(--bg)}
header.top{display:flex;gap:16px;align-items:baseline;flex-wrap:wrap;padding:12px 24px;
background:#24292f;color:#fff}
header.top h1{margin:0;font-size:18px}
header.top .about{color:#d0d7de}
header.top .refresh{margin-left:auto;color:#d0d7de;font-size:12px}
header.top a{color:#9ecbff}
main{padding:16px 24px;max-width:1280px}
footer{padding:0 24px 16px;color:var(--muted);font-size:12px}
section.project{background:#fff;border:1px solid var(--line);border-radius:8px;
padding:12px 16px 16px;margin-bottom:18px}
h2{margin:0 0 8px;font-size:17px}
h2 .serving{font-weight:400;font-size:13px;color:var(--muted);margin-left:8px}
h3{margin:0 0 6px;font-size:13px;text-transform:uppercase;letter-spacing:.04em;
color:var(--muted)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:var(--muted)}
.job{border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:0 0 6px;
background:#fbfcfd}
.job.running{border-color:var(--accent)}
.job.idle{border-style:dashed;background:none}
.job .bar{display:flex;align-items:center;gap:8px;margin-top:4px}
progress{flex:1;max-width:360px;height:12px;accent-color:var(--accent)}
.pct{font-variant-numeric:tabular-nums;min-width:3em}
.job-message{color:var(--muted);font-size:12px}
.overview{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap;margin:10px 0}
.curve.empty{width:460px;padding:24px;border:1px dashed var(--line);border-radius:6px}
svg.curve{background:#fff;border:1px solid var(--line);border-radius:6px}
svg .grid{stroke:#eaeef2}
svg .axis,svg .tick{stroke:#8c959f}
svg .tl{font-size:10px;fill:var(--muted);font-variant-numeric:tabular-nums}
svg .al{font-size:11px;fill:var(--muted)}
svg .line{fill:none;stroke:var(--accent);stroke-width:2}
svg .point{fill:var(--accent);stroke:#fff;stroke-width:1.5}
svg .point.pt-rejected{fill:#bf8700}
svg .point.served{fill:var(--ok)}
svg .served-ring{fill:none;stroke:var(--ok);stroke-width:2}
svg .served-label{font-size:10px;font-weight:600;fill:var(--ok)}
.side{flex:1;min-width:300px}
.failures{margin-top:14px}
.failures p{margin:0}
.failures ul{list-style:none;margin:0;padding:0}
.failure{padding:6px 0;border-bottom:1px solid #eaeef2}
.failure .message{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;color:var(--err);
white-space:pre-wrap;word-break:break-word;max-height:6em;overflow:auto}
.failure.rejected .message{color:var(--rej)}
table.versions{width:100%;border-collapse:collapse;margin-top:6px}
table.versions th{text-align:left;font-weight:600;font-size:12px;color:var(--muted);
border-bottom:2px solid var(--line);padding:6px 8px;white-space:nowrap}
table.versions td{padding:6px 8px;border-bottom:1px solid #eaeef2;vertical-align:middle}
table.versions .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.versions td.score{font-weight:600}
table.versions td.decision{color:var(--muted);font-size:12px;max-width:360px}
table.versions td.decision .err{color:var(--err)}
table.versions tr.served td{background:#f0fff4}
table.versions tr.served td:first-child{box-shadow:inset 4px 0 0 var(--ok)}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;
line-height:20px;white-space:nowrap}
.st-ok{color:var(--ok);background:var(--okbg)}
.st-rejected{color:var(--rej);background:var(--rejbg)}
.st-error{color:var(--err);background:var(--errbg)}
.st-incomplete,.st-unknown{color:var(--inc);background:var(--incbg)}
.served-mark{color:#fff;background:var(--ok)}
.pin{color:var(--accent);background:#ddf4ff}
section.connection{background:#fff;border:1px solid var(--line);border-radius:8px;
padding:12px 16px 16px;margin-bottom:18px}
table.checks{border-collapse:collapse;width:100%;margin-bottom:10px}
table.checks td{border-top:1px solid var(--line);padding:4px 8px;vertical-align:top}
table.checks td:first-child{width:4em}
table.checks .fix{color:var(--err);font-size:12px}
tr.ck-warn .fix{color:var(--rej)}
form.serve{margin:0}
form.serve button{font:inherit;font-size:12px;padding:2px 10px;border-radius:6px;
border:1px solid var(--line);background:#f6f8fa;cursor:pointer;white-space:nowrap}
form.serve button:hover{background:#eaeef2;border-color:#8c959f}
form.serve button.promote{border-color:#d4a72c;background:var(--rejbg)}
"""
