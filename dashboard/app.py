"""evalkit's dashboard: leaderboard, A-vs-B comparison, samples, trajectory and provenance.

Start it with ``evalkit dashboard --db PATH`` or directly with
``python -m streamlit run dashboard/app.py -- --db PATH`` (or ``EVALKIT_DB=PATH``).
Every page reads the store through ``evalkit.store.dashboard_queries``; the selection
(pool, judge, baseline, candidate, comparison, filters, page) is kept in the URL.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import streamlit as st  # noqa: E402
from ekdash import widgets  # noqa: E402

PAGES = (
    ("views/leaderboard.py", "Leaderboard", "leaderboard", ":material/leaderboard:"),
    ("views/compare.py", "Compare A vs B", "compare", ":material/compare_arrows:"),
    ("views/samples.py", "Samples", "samples", ":material/list:"),
    ("views/trajectory.py", "Trajectory", "trajectory", ":material/trending_up:"),
    ("views/benchmarks.py", "Benchmarks", "benchmarks", ":material/fact_check:"),
    ("views/provenance.py", "Provenance", "provenance", ":material/fingerprint:"),
    ("views/contamination.py", "Contamination", "contamination", ":material/biotech:"),
    ("views/pools.py", "Pools", "pools", ":material/inventory_2:"),
    ("views/rewards.py", "Rewards", "rewards", ":material/military_tech:"),
    ("views/grades.py", "Grades", "grades", ":material/grade:"),
)

st.set_page_config(page_title="evalkit", layout="wide")
page = st.navigation([st.Page(path, title=title, url_path=url, icon=icon, default=i == 0)
                      for i, (path, title, url, icon) in enumerate(PAGES)])
widgets.frame()
page.run()
