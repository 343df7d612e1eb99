"""The look every self-contained HTML report shares (drift, monitors, A/B tests).

Reports inline this stylesheet and add only the rules of their own verdict colours, so
they read as one product and open with no network.
"""

from __future__ import annotations

REPORT_CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
margin:24px;color:#1f2328;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#57606a;font-size:13px}
.verdict{padding:12px 16px;border-radius:6px;font-size:16px;margin:14px 0}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:6px}
.card p{margin:2px 0;font-size:12px;color:#57606a}
"""

__all__ = ["REPORT_CSS"]
