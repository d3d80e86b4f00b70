"""Uploads through the master with a plain client that keeps cookies like a
browser: page, health, WebSocket, script run, then the PUT to
<path>_stcore/upload_file/<session id>/<file id> with the XSRF token.

Every request is a routing decision of its own, so with two children only
sticky routing lands the PUT on the process that holds the session. A browser
check alone is weak here: the control (test_loosened_controls.py) redeploys
the app with `sticky: none` (round-robin), and then every session loses an
upload (400 Invalid session_id).

Each session uploads UPLOADS files one after another on one kept-alive
connection, so one Nginx worker routes them all. Round-robin alternates per
worker, so two consecutive uploads reach both children and one of them cannot
hold the session. One upload per session would not do: whether it meets the
WebSocket's child depends on which worker the kernel gave each connection,
and CI saw 2 and 6 of 12 lost where earlier runs lost most.
"""

from collections import Counter

from stclient import SESSIONS, UPLOADS, count_uploads, fresh_session

MIB = 1024 * 1024


def test_every_upload_of_a_dozen_fresh_sessions_answers_204(app_url, cafile):
    counts, results = count_uploads(app_url, cafile)
    assert counts == Counter({204: SESSIONS * UPLOADS}), f"{counts}: " + "; ".join(map(str, results))


def test_upload_just_below_the_apps_limit_passes_the_proxy(app_url, cafile, apps):
    """max_upload_mb sets both limits, so Nginx never refuses what the app takes.
    Streamlit compares the whole request's Content-Length with its limit, so the
    largest file it takes is the limit less the multipart framing (a few hundred
    bytes); one byte over the limit is refused."""
    limit = next(a for a in apps if a["name"] == "main")["max_upload_mb"] * MIB
    below = fresh_session(app_url, cafile=cafile, upload_size=limit - 4096)
    assert below.upload == 204, below
    over = fresh_session(app_url, cafile=cafile, upload_size=limit + 1)
    assert over.upload == 413, over


def test_control_40_mb_over_a_30_mb_app_is_refused(strict_url, cafile, apps):
    limit = next(a for a in apps if a["name"] == "strict")["max_upload_mb"]
    assert limit < 40
    seen = fresh_session(strict_url, cafile=cafile, upload_size=40 * MIB)
    assert seen.session_id and seen.upload == 413, seen
