"""One self-contained HTML page for a run: styles, charts and the table sorter are inline, nothing is fetched."""

from __future__ import annotations

import time
from html import escape

from .. import __version__
from ..types import Status
from .entry import ReportEntry, verdict_text
from .svg import evidence_svg, timeline_svg

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#1d2430;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-top:1px solid #ccd;padding-top:1em}
table{border-collapse:collapse;width:100%}th,td{padding:.3em .6em;border-bottom:1px solid #e3e6ee;text-align:left}
th{cursor:pointer;user-select:none;background:#f3f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-size:1.25em;font-weight:600;padding:.4em .7em;border-radius:6px;display:inline-block}
.verdict.ai{background:#fde2e1;color:#9b1c1c}.verdict.human{background:#def7e5;color:#1b6b35}
.verdict.failed{background:#eceff4;color:#4a5364}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:#5a6375}dd{margin:0}
svg{width:100%;height:auto;margin:.6em 0}svg .label,svg .small{font-size:11px;fill:#5a6375}svg .title{font-size:13px;fill:#1d2430}
.window-bar.ai{fill:#d9534f}.window-bar.human{fill:#3c9d5d}.window-bar.silence{fill:#b8bec9}.window-bar.speech{fill:#5b8fd9}
.running{fill:none;stroke:#1d2430;stroke-width:2}.threshold{stroke:#9b1c1c;stroke-dasharray:5 4}
.share.vocal{fill:#e39b3b}.share.instrumental{fill:#7a68c9}.share.speech{fill:#5b8fd9}.share.silence{fill:#d5d9e0}
.residual{fill:none;stroke:#2a4d8f;stroke-width:1}.grid-peak{stroke:#b8bec9;stroke-dasharray:2 3}
.grid-peak.detected{stroke:#d9534f;stroke-dasharray:none;opacity:.6}
.real-music-range{fill:#def7e5}.z-marker{stroke:#9b1c1c;stroke-width:3}
.legend span{margin-right:1em;font-size:.85em}.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em}
"""

#: Click a column header to sort by it; click again to reverse. Numbers sort as numbers.
_SORTER = """
document.querySelectorAll('#summary th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], down = th.dataset.dir !== 'asc';
  th.dataset.dir = down ? 'asc' : 'desc';
  const key = row => { const c = row.cells[col]; return c.dataset.value !== undefined ? Number(c.dataset.value) : c.textContent; };
  [...body.rows].sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (down ? 1 : -1); })
    .forEach(row => body.appendChild(row));
}));
"""

_LEGEND = (
    '<p class="legend"><span><i style="background:#d9534f"></i>AI window</span>'
    '<span><i style="background:#3c9d5d"></i>human window</span><span><i style="background:#b8bec9"></i>silence</span>'
    '<span><i style="background:#5b8fd9"></i>speech</span><span>— running verdict</span>'
    '<span style="color:#9b1c1c">- - threshold</span> · content: <span><i style="background:#e39b3b"></i>vocal</span>'
    '<span><i style="background:#7a68c9"></i>instrumental</span></p>'
)


def render_html(entries: list[ReportEntry]) -> str:
    sections = "".join(_section(i, entry) for i, entry in enumerate(entries))
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>aimd report — {len(entries)} input{'s' if len(entries) != 1 else ''}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>AI-music analysis</h1><p>{len(entries)} input(s), aimd {escape(__version__)}, {generated}.</p>"
        f"{_summary_table(entries)}{sections}<script>{_SORTER}</script></body></html>"
    )


def _css_class(entry: ReportEntry) -> str:
    if entry.summary.status is not Status.OK:
        return "failed"
    return "ai" if entry.summary.is_ai else "human"


def _summary_table(entries: list[ReportEntry]) -> str:
    rows = []
    for i, entry in enumerate(entries):
        s = entry.summary
        rows.append(
            f'<tr><td><a href="#input-{i}">{escape(entry.name)}</a></td><td>{escape(verdict_text(s))}</td>'
            f'<td class="num" data-value="{s.ai_score}">{s.ai_score:.2f}</td>'
            f'<td class="num" data-value="{s.duration_s}">{s.duration_s:.1f} s</td>'
            f'<td class="num" data-value="{s.window_count}">{s.window_count}</td><td>{s.status.value}</td></tr>'
        )
    return (
        '<table id="summary"><thead><tr><th>input</th><th>verdict</th><th>AI score</th><th>duration</th>'
        f"<th>windows</th><th>status</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _section(index: int, entry: ReportEntry) -> str:
    s = entry.summary
    parts = [
        f'<section id="input-{index}" class="input"><h2>{escape(entry.name)}</h2>',
        f'<p class="verdict {_css_class(entry)}">{escape(verdict_text(s))}</p>',
        _numbers(entry),
    ]
    if s.windows:
        parts.append(f"<h3>Timeline of the {s.window_count} windows</h3>{_LEGEND}{timeline_svg(s.windows, entry.threshold)}")
    if entry.evidence is not None:
        parts.append(f"<h3>Evidence: residual spectrum of the music</h3>{evidence_svg(entry.evidence)}")
    parts.append("</section>")
    return "".join(parts)


def _numbers(entry: ReportEntry) -> str:
    s = entry.summary
    if not s.windows:  # nothing was judged: the status is all there is to say
        return f"<dl><dt>status</dt><dd>{escape(s.status.value)} — {escape(s.message)}</dd></dl>"
    rows = [
        ("status", f"{s.status.value}" + (f" — {s.message}" if s.message != s.status.value else "")),
        ("AI score (whole input)", f"{s.ai_score:.3f} (threshold {entry.threshold:.2f})"),
        ("verdict", s.primary_verdict.value),
        ("duration", f"{s.duration_s:.1f} s in {s.window_count} windows"),
        ("content", f"vocal {s.vocal_percentage:.0f} %, instrumental {s.instrumental_percentage:.0f} %, "
                    f"speech {s.speech_percentage:.0f} %, silence {s.silence_percentage:.0f} %"),
        ("AI share", f"vocal {s.vocal_ai_percentage:.0f} % (confidence {s.vocal_ai_confidence:.2f}), "
                     f"instrumental {s.instrumental_ai_percentage:.0f} % (confidence {s.instrumental_ai_confidence:.2f})"),
        ("engine", f"{s.engine} {s.model_version}"),
        *(("evidence", item) for item in s.evidence),
    ]  # fmt: skip
    if s.gap_seconds or s.dropped_windows:
        rows.append(("lost audio", f"{s.gap_seconds:.1f} s in gaps, {s.dropped_windows} windows dropped"))
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"
