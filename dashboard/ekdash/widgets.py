"""Widgets whose state lives in the URL, tables with a CSV download, model text shown as text,
and the frame every page shares (store, pool, judge).

URL state: a widget reads its first value from the query parameter it is bound to (a shared
link opens the same view), then writes its value back on every run, so the address bar is
always a link to what is on screen. The last value is also kept in Session State, so moving
between pages keeps the selection.

Model and judge text is never rendered as HTML or Markdown: ``show_text`` uses ``st.code``
(shown verbatim, escaped by the front end); tables render cells as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from . import data

COMPARE_HINT = "No comparisons yet — run `evalkit compare A B --pool P` to fill this page."


# --------------------------------------------------------------------------- URL state

def _keep(param: str) -> str:
    return f"ek_keep_{param}"


def remember(param: str, value: Any, default: Any = None) -> None:
    """Keep a widget's value for other pages and put it in the URL (removed at default)."""
    st.session_state[_keep(param)] = value
    if value is None or value == default or value == "" or value == []:
        if param in st.query_params:
            del st.query_params[param]
        return
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    if st.query_params.get(param) != text:
        st.query_params[param] = text


def _initial(param: str, valid: Callable[[Any], bool], default: Any,
             parse: Callable[[str], Any] = lambda s: s) -> Any:
    wanted = st.query_params.get(param)
    if wanted is not None:
        try:
            value = parse(wanted)
        except ValueError:
            value = None
        if value is not None and valid(value):
            return value
    kept = st.session_state.get(_keep(param))
    if isinstance(kept, str):
        try:
            kept = parse(kept)
        except ValueError:
            kept = None
    if kept is not None and valid(kept):
        return kept
    return default


def select(label: str, options: Sequence[str], param: str, *, default: str | None = None,
           format_func: Callable[[Any], str] = str, container: Any = None,
           help: str | None = None, url_default: str | None = None) -> str | None:
    """A selectbox bound to query parameter ``param`` (left out of the URL while it equals
    ``url_default``)."""
    options = list(options)
    if not options:
        return None
    key = f"ek_{param}"
    if st.session_state.get(key) not in options:
        fallback = default if default in options else options[0]
        st.session_state[key] = _initial(param, lambda v: v in options, fallback)
    value = (container or st).selectbox(label, options, key=key, format_func=format_func,
                                        help=help)
    remember(param, value, url_default)
    return value


def multiselect(label: str, options: Sequence[str], param: str, *,
                format_func: Callable[[Any], str] = str, container: Any = None) -> list[str]:
    """A multiselect bound to ``param`` (comma-separated in the URL)."""
    options = list(options)
    key = f"ek_{param}"
    if key not in st.session_state:
        st.session_state[key] = _initial(
            param, lambda v: isinstance(v, list) and set(v) <= set(options), [],
            lambda s: [x for x in s.split(",") if x])
    value = (container or st).multiselect(label, options, key=key, format_func=format_func)
    remember(param, value, [])
    return list(value)


def checkbox(label: str, param: str, *, container: Any = None) -> bool:
    """A checkbox bound to ``param`` (``1`` in the URL when ticked)."""
    key = f"ek_{param}"
    if key not in st.session_state:
        st.session_state[key] = bool(_initial(param, lambda v: isinstance(v, bool), False,
                                              lambda s: s in ("1", "true", "yes")))
    value = (container or st).checkbox(label, key=key)
    remember(param, "1" if value else None)
    return bool(value)


def text_input(label: str, param: str, *, container: Any = None,
               placeholder: str | None = None) -> str:
    key = f"ek_{param}"
    if key not in st.session_state:
        st.session_state[key] = _initial(param, lambda v: isinstance(v, str), "")
    value = (container or st).text_input(label, key=key, placeholder=placeholder)
    remember(param, value or None)
    return value or ""


def page_number(label: str, param: str, n_pages: int, *, reset_on: Any = None,
                container: Any = None) -> int:
    """A 1-based page number bound to ``param``; back to page 1 when ``reset_on`` changes."""
    key = f"ek_{param}"
    sig_key = f"ek_sig_{param}"
    n_pages = max(1, int(n_pages))
    if key not in st.session_state:
        st.session_state[key] = _initial(param, lambda v: 1 <= v <= n_pages, 1, int)
    elif st.session_state.get(sig_key, reset_on) != reset_on:
        st.session_state[key] = 1
    st.session_state[sig_key] = reset_on
    st.session_state[key] = min(max(1, int(st.session_state[key])), n_pages)
    value = (container or st).number_input(f"{label} (of {n_pages})", min_value=1,
                                           max_value=n_pages, step=1, key=key)
    remember(param, int(value), 1)
    return int(value)


# --------------------------------------------------------------------------- output

def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "table"


def md_escape(value: Any) -> str:
    """A name safe inside Markdown (labels are shown literally, never as markup)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~$])", r"\\\1", str(value))


def table(rows: pd.DataFrame | Sequence[dict[str, Any]], name: str, *,
          column_config: dict[str, Any] | None = None, key: str | None = None,
          height: int | str = "auto") -> pd.DataFrame:
    """A sortable table and a button that downloads exactly its rows as CSV."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    st.dataframe(df, hide_index=True, column_config=column_config, width="stretch",
                 height=height)
    st.download_button(f"Download {name} (CSV)", df.to_csv(index=False).encode("utf-8"),
                       file_name=f"{slug(name)}.csv", mime="text/csv",
                       key=f"csv_{key or slug(name)}", on_click="ignore")
    return df


def show_text(body: str | None, *, empty: str = "(empty)") -> None:
    """Model or judge text, verbatim: HTML and Markdown inside it are shown, not rendered."""
    st.code(empty if body is None or body == "" else str(body), language=None,
            wrap_lines=True)


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def fmt_ci(lo: float | None, hi: float | None, pct: bool = True) -> str:
    if lo is None or hi is None:
        return "—"
    return f"[{lo:.1%}, {hi:.1%}]" if pct else f"[{lo:.0f}, {hi:.0f}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


# --------------------------------------------------------------------------- the frame

@dataclass
class Context:
    """What every page works on: the store, the pool (by name) and the judge."""

    url: str | None = None
    pool: str | None = None
    judge: str | None = None
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # why there is nothing to show, and what command fills it


def frame() -> Context:
    """The sidebar shared by all pages: pick the pool and the judge. Called by ``app.py``
    before the page runs; pages read the result with ``context()``."""
    ctx = Context(url=data.store_url())
    st.session_state["_ek_ctx"] = ctx
    sidebar = st.sidebar
    if ctx.url is None:
        ctx.problem = ("No store given. Start the dashboard with `evalkit dashboard --db PATH` "
                       "(or set `EVALKIT_DB`), then run `evalkit compare A B --pool P`.")
        return ctx
    path = data.sqlite_file(ctx.url)
    if path is not None and not path.exists():
        ctx.problem = (f"No store at `{path}` yet — run `evalkit compare A B --pool P` "
                       "(or `evalkit demo`) to fill it.")
        return ctx
    if not data.store_ready(ctx.url):
        ctx.problem = COMPARE_HINT
        return ctx
    pools = data.pools(ctx.url)
    with_comparisons = [p["pool"] for p in pools if p["comparisons"]]
    if not with_comparisons:
        names = ", ".join(p["pool"] for p in pools)
        ctx.problem = COMPARE_HINT + (f" (pools in this store: {names})" if names else "")
        return ctx
    counts = {p["pool"]: p["comparisons"] for p in pools}
    ctx.pool = select("Pool", with_comparisons, "pool", container=sidebar,
                      format_func=lambda p: f"{p} ({counts[p]} comparisons)")
    judges = data.judges(ctx.url, ctx.pool)
    ctx.judge = select("Judge", [j["judge"] for j in judges], "judge", container=sidebar)
    ctx.comparisons = data.comparisons(ctx.url, ctx.pool, ctx.judge)
    sidebar.caption(f"Store: {ctx.url}")
    if st.sidebar.button("Reload data", help="Clear cached query results"):
        st.cache_data.clear()
        st.rerun()
    return ctx


def context(title: str) -> Context:
    """The page's context; shows the page title, and stops with a hint when there is no data."""
    st.title(title)
    ctx = st.session_state.get("_ek_ctx")
    if ctx is None or ctx.problem or not ctx.comparisons:
        st.info(ctx.problem if ctx is not None and ctx.problem else COMPARE_HINT)
        st.stop()
    return ctx


def comparison_label(c: dict[str, Any]) -> str:
    return (f"{c['candidate']} vs {c['baseline']} · {c['created_at'][:16]} · {c['id'][:8]} · "
            f"win rate {fmt_rate(c['win_rate'])}")
