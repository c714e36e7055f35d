"""Benchmark: ClipStudio search (whoosh, through ``Library``/``SearchIndex``) vs SQLite FTS5.

Both engines index the very same synthetic library in the same run, and run the same
queries (translated to FTS5 syntax) on it; the report gives whoosh/FTS5 latency ratios.

* **Library**: ``--calls`` synthetic sales calls (~250 utterances each, rep and customer
  speakers, objections, competitors, next steps...) generated from templates with a seeded
  RNG, written into a real library folder (``Library(root)``: real migrations, real
  ``clipstudio.db``). Rows go in with bulk ``INSERT``s into the same ``calls``,
  ``speakers`` and ``utterances`` tables ``Library.insert_call`` writes, because
  ``insert_call`` needs media files and re-indexes plus runs the trackers after every
  single call (hours for 10,000 calls). The ``words`` table is left empty: search never
  reads it.
* **whoosh (ClipStudio)**: build = ``Library.reindex()`` (``SearchIndex.rebuild``);
  queries = ``Library.search(q, role=, rep=, limit=50)`` (query parsing, synonym expansion,
  BM25 top 50, total count, Markdown highlighting, ``Hit`` objects) plus
  ``grouped(result)``, exactly what the Search page does. Incremental = a new call's rows
  committed to SQLite, then ``index_call``; a call's rows deleted, then ``remove_call``.
* **FTS5**: a separate SQLite file with one FTS5 table (``tokenize='porter unicode61'``),
  ``text`` indexed and the displayed fields (ids, speaker, role, rep, title, date,
  times) ``UNINDEXED``; build = one ``INSERT ... SELECT`` from the library database.
  Queries = ``SELECT ..., highlight(), bm25 ... WHERE MATCH ? [AND role = ?] ORDER BY rank
  LIMIT 50`` plus ``SELECT count(*)`` for the total, rows turned into dicts.

Usage::

    .venv/bin/python bench/search_bench.py                 # 1,000 then 10,000 calls
    .venv/bin/python bench/search_bench.py --calls 1000    # one size
    .venv/bin/python bench/search_bench.py --calls 1000 --workdir bench/.cache --keep
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report import machine_info as base_machine_info
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
GENERATOR_VERSION = 2  # bump when the synthetic text changes (a kept workdir is then rebuilt)
TARGET_P95_MS = 50.0  # at 1,000 calls, phrase and filtered queries
LIMIT = 50  # the Search page's default page
UTTERANCES_PER_CALL = (220, 280)

# --------------------------------------------------------------------------------------
# synthetic sales calls
# --------------------------------------------------------------------------------------
REPS = ["Dana Lee", "Marcus Webb", "Priya Natarajan", "Tom Okafor", "Sofia Alvarez",
        "Jake Morrison", "Aisha Khan", "Lena Fischer", "Carlos Mendes", "Hannah Brooks",
        "Ravi Patel", "Emily Chen", "Noah Schmidt", "Grace Kim"]
ACCOUNT_A = ["Acme", "Northwind", "Globex", "Initech", "Umbrella", "Vandelay", "Hooli",
             "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Blue Sky", "Summit", "Redwood",
             "Harbor", "Pinnacle", "Evergreen", "Ironclad", "Brightline", "Cobalt",
             "Keystone", "Lakeside", "Meridian", "Silverline", "Riverbend", "Granite",
             "Oakridge", "Sunbelt", "Westfield", "Crescent"]
ACCOUNT_B = ["Logistics", "Foods", "Health", "Bank", "Retail", "Systems", "Labs", "Freight",
             "Insurance", "Media", "Energy", "Capital", "Software", "Manufacturing",
             "Realty", "Telecom"]
FIRST = ["Laura", "Mike", "Sarah", "David", "Jennifer", "Chris", "Amanda", "Kevin", "Rachel",
         "Brian", "Nicole", "Steve", "Megan", "Jason", "Olivia", "Daniel", "Maria", "Paul",
         "Karen", "Ahmed", "Yuki", "Fatima", "Lucas", "Ingrid", "Pedro", "Chloe"]
LAST = ["Johnson", "Miller", "Garcia", "Brown", "Davis", "Wilson", "Moore", "Taylor",
        "Anderson", "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "Young",
        "Nguyen", "Kowalski", "Rossi", "Dubois", "Tanaka", "Silva", "Novak", "Berg"]
STAGES = ["Discovery call", "Demo", "Pricing review", "Follow-up", "Negotiation", "Renewal",
          "Onboarding kickoff", "Quarterly business review", "Technical deep dive",
          "Intro call"]
OUTCOMES = ["won", "lost", "open", "unknown"]
COMPETITORS = ["Salesforce", "HubSpot", "Gong", "Outreach", "Chorus", "Pipedrive", "Zendesk",
               "Salesloft", "Clari", "Zoho"]
FEATURES = ["dashboard", "integration", "reporting", "call recording", "forecasting",
            "analytics", "API", "single sign-on", "mobile app", "coaching", "transcription",
            "pipeline view", "email sync", "CRM sync", "alerts", "permissions",
            "data export", "audit log", "custom fields", "workflow automation"]
TEAMS = ["sales team", "SDR team", "customer success", "marketing", "RevOps", "finance",
         "IT", "legal", "procurement", "leadership team", "support team", "ops team"]
BOSSES = ["boss", "manager", "director", "VP of sales", "CFO", "CEO", "head of operations",
          "team lead"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
PRICES = ["$48,000", "$12 per seat", "$30k", "$25 a user", "$120,000", "$9,500", "$60k",
          "$18 per user per month", "$75,000", "$4,000"]
NUMBERS = ["two", "three", "five", "ten", "twelve", "twenty", "fifty", "a hundred",
           "forty", "two hundred"]

# a broad everyday + business lexicon, sampled Zipf-like for the vocabulary tail
NOUNS = ("process team data customer quarter deal pipeline report meeting email call week "
         "month year budget project system tool platform workflow account contract price "
         "plan goal number target quota territory region market segment lead prospect "
         "opportunity demo trial pilot rollout launch deadline timeline schedule calendar "
         "invite agenda slide deck proposal quote invoice payment renewal license seat user "
         "admin manager director executive board partner vendor supplier competitor product "
         "feature module update release version bug issue ticket request question answer "
         "problem solution challenge priority risk concern objection feedback review survey "
         "metric KPI dashboard chart spreadsheet file document policy security compliance "
         "audit approval signature budget cycle headcount hiring training onboarding "
         "adoption usage login password server cloud database integration API connector "
         "migration import export backup region office warehouse store shipment order "
         "inventory supply truck fleet driver route delivery client patient clinic hospital "
         "bank loan branch portfolio claim policyholder campaign webinar conference event "
         "booth website traffic conversion funnel churn retention upsell expansion discount "
         "margin revenue cost savings ROI value case study reference testimonial coffee "
         "weekend holiday vacation kids weather traffic lunch airport flight hotel").split()
VERBS = ("use track send share review check schedule book move push pull close sign approve "
         "compare evaluate test try run build ship launch roll manage handle cover support "
         "train onboard migrate import export connect sync update upgrade renew cancel "
         "extend reduce increase improve measure report forecast plan budget hire grow "
         "scale expand cut save spend invest lose win switch replace integrate automate "
         "simplify streamline prioritise escalate resolve fix debug configure customise "
         "present demo discuss explain walk answer ask follow loop circle reach "
         "confirm finalise negotiate discount bundle price quote invoice pay bill").split()
ADJS = ("new current existing manual automated quick slow easy hard simple complex clunky "
        "great solid reliable expensive cheap affordable flexible secure critical big small "
        "huge early late next last whole entire main key top internal external annual "
        "monthly weekly daily remote global local regional busy tight clear rough").split()
PREPS = ["for", "with", "across", "on", "in", "from", "into", "around", "before", "after"]
SUBJ = ["we", "they", "our team", "my team", "the team", "our reps", "our managers",
        "finance", "IT", "the business", "our customers", "leadership"]
OPENERS = ["So", "And", "But", "Well,", "Honestly,", "Right now", "Actually,", "I think",
           "Basically,", "To be fair,", "", "", "", ""]

REP_LINES = [
    "Thanks for making the time today, {cust}.",
    "Before we dive in, can you tell me a bit about how your {team} works today?",
    "What does your current process look like for {noun}?",
    "How are you handling {feature} right now?",
    "What made you take this call?",
    "Who else would be involved in a decision like this?",
    "What does the timeline look like on your side?",
    "Let me share my screen and walk you through the {feature}.",
    "This is the {feature}, and it updates in real time.",
    "A lot of teams like yours use it to cut down on manual {noun} work.",
    "Most customers see value within the first {num} weeks.",
    "Pricing is {price}, and that includes onboarding and support.",
    "We can do an annual contract at {price}.",
    "If you sign by the end of {month}, I can offer a {pct} percent discount.",
    "I hear you on the price, let me see what I can do.",
    "What would it take to get this over the line?",
    "How does that compare to what you pay for {comp} today?",
    "We integrate with {comp} out of the box, so you would keep your data.",
    "A lot of our customers switched from {comp} last year.",
    "Would a two week pilot help you build the business case?",
    "I can set up a free trial for your {team}.",
    "I will send over a proposal and a case study after this call.",
    "Let me send you a calendar invite for {day} at {hour}.",
    "What are the next steps on your side?",
    "Can we get your {boss} on the next call?",
    "Happy to loop in our security team for the review.",
    "Does the {feature} solve the problem you described?",
    "I will follow up by email with the recording and the pricing.",
    "Just to recap, you need {feature} and {feature2} for about {num} users.",
    "Is budget already allocated for this quarter?",
    "When does your contract with {comp} come up for renewal?",
    "Totally understand, timing matters.",
    "Let me circle back with our product team on that.",
    "Would it make sense to book thirty minutes with your {team}?",
    "We have a reference customer in {industry} you could talk to.",
    "That is a great question.",
]
CUST_LINES = [
    "Thanks, happy to be here.",
    "Right now we do most of it in spreadsheets.",
    "We already use {comp} for that.",
    "We already use {comp}, so I am not sure we need another tool.",
    "Honestly it is too expensive for us right now.",
    "That is way too expensive.",
    "It is not in the budget this year.",
    "We are over budget for the quarter.",
    "The price is higher than we expected.",
    "Is there any discount if we commit to two years?",
    "I need to talk to my {boss} before we can move forward.",
    "I need to check with my {boss} first.",
    "My {boss} has to sign off on anything over {price}.",
    "I would have to run it by {team}.",
    "We just signed with {comp} last {month}, so the timing is not great.",
    "This is not a priority until next quarter.",
    "Can we circle back in {month}?",
    "It is a bad time, we are in the middle of a reorg.",
    "Our contract with {comp} renews in {month}.",
    "How long does onboarding usually take?",
    "Does it integrate with {comp}?",
    "What about security and compliance, do you have SOC 2?",
    "The {feature} looks really useful for our {team}.",
    "I like the {feature}, but the {feature2} feels clunky.",
    "We tried something similar and nobody used it.",
    "Our reps spend hours on manual {noun} every week.",
    "We have about {num} people on the {team}.",
    "Can you send over the pricing and a case study?",
    "Sure, {day} at {hour} works for me.",
    "Let me loop in our {team} on the next call.",
    "A pilot could work if it is free.",
    "What happens to our data if we cancel?",
    "We need to see the ROI before we commit.",
    "Honestly the demo was great.",
    "I am worried about adoption.",
    "We are evaluating {comp} and {comp2} as well.",
    "That sounds reasonable.",
    "Who else do you work with in {industry}?",
]
FILLERS = ["Yeah.", "Okay.", "Mm-hmm.", "Right.", "Got it.", "Sure.", "Yeah, exactly.",
           "Okay, that makes sense.", "Right, right.", "Uh huh.", "Yes.", "Perfect.",
           "Sounds good.", "Um, let me think.", "Great.", "No, that's fine."]
CITIES = ["Chicago", "Denver", "Austin", "Boston", "Seattle", "Atlanta", "Toronto", "London",
          "Berlin", "Dublin", "Madrid", "Phoenix", "Dallas", "Miami", "Portland", "Nashville"]
INDUSTRIES = ["logistics", "healthcare", "banking", "retail", "manufacturing", "insurance",
              "software", "telecom", "energy", "media"]


def _zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return [1.0 / (k + 1) ** s for k in range(n)]


_NOUN_W = _zipf_weights(len(NOUNS), 0.9)
_VERB_W = _zipf_weights(len(VERBS), 0.9)
_ADJ_W = _zipf_weights(len(ADJS), 0.9)
_REP_W = _zipf_weights(len(REP_LINES), 0.3)
_CUST_W = _zipf_weights(len(CUST_LINES), 0.3)
TEMPLATE_SHARE = 0.2  # the rest is generic talk: an objection is said ~1-3 times a call


@dataclass
class SynthCall:
    title: str
    rep: str
    account: str
    call_date: str
    outcome: str
    customers: list[str]
    utterances: list[tuple[int, float, float, str]]  # (speaker slot, start, end, text)


class Generator:
    """Deterministic: call ``n`` of seed ``s`` is always the same call."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _fill(self, r: random.Random, template: str, cust: str) -> str:
        comp, comp2 = r.sample(COMPETITORS, 2)
        feat, feat2 = r.sample(FEATURES, 2)
        return template.format(
            cust=cust.split()[0], team=r.choice(TEAMS), noun=r.choices(NOUNS, _NOUN_W)[0],
            feature=feat, feature2=feat2, num=r.choice(NUMBERS), price=r.choice(PRICES),
            month=r.choice(MONTHS), pct=r.choice((5, 10, 15, 20)), comp=comp, comp2=comp2,
            day=r.choice(DAYS), hour=f"{r.randint(9, 16) % 12 or 12} {r.choice(('am', 'pm'))}",
            boss=r.choice(BOSSES), industry=r.choice(INDUSTRIES))

    @staticmethod
    def _chatter(r: random.Random) -> str:
        """A generic business sentence from the lexicon: the vocabulary's long tail."""
        n1, n2 = r.choices(NOUNS, _NOUN_W, k=2)
        words = [r.choice(OPENERS), r.choice(SUBJ), r.choices(VERBS, _VERB_W)[0], "the"]
        if r.random() < 0.5:
            words.append(r.choices(ADJS, _ADJ_W)[0])
        words += [n1, r.choice(PREPS), r.choice(("the", "our", "their", "every", "each")), n2]
        if r.random() < 0.4:
            words += ["every", r.choice(("week", "month", "quarter", "day"))]
        elif r.random() < 0.2:
            words += ["in", r.choice(CITIES)]
        text = " ".join(w for w in words if w)
        return text[0].upper() + text[1:] + "."

    def _utterance(self, r: random.Random, role: str, cust: str) -> str:
        if r.random() < 0.12:
            return r.choice(FILLERS)
        lines, weights = (REP_LINES, _REP_W) if role == "rep" else (CUST_LINES, _CUST_W)
        parts = []
        for _ in range(r.choice((1, 2, 2, 3, 3, 3))):
            if r.random() < TEMPLATE_SHARE:
                parts.append(self._fill(r, r.choices(lines, weights)[0], cust))
            else:
                parts.append(self._chatter(r))
        return " ".join(parts)

    def call(self, n: int) -> SynthCall:
        r = random.Random(f"{self.seed}:{n}")
        rep = r.choice(REPS)
        account = f"{r.choice(ACCOUNT_A)} {r.choice(ACCOUNT_B)}"
        customers = [f"{r.choice(FIRST)} {r.choice(LAST)}"]
        if r.random() < 0.15:
            customers.append(f"{r.choice(FIRST)} {r.choice(LAST)}")
        day = dt.date(2024, 1, 1) + dt.timedelta(days=r.randrange(730))
        utts: list[tuple[int, float, float, str]] = []
        t = r.uniform(1, 5)
        slot = 0  # 0 = rep, 1.. = customers
        for _ in range(r.randint(*UTTERANCES_PER_CALL)):
            role = "rep" if slot == 0 else "customer"
            text = self._utterance(r, role, customers[0])
            dur = max(0.6, len(text.split()) * r.uniform(0.3, 0.42))
            utts.append((slot, round(t, 2), round(t + dur, 2), text))
            t += dur + r.uniform(0.1, 1.2)
            if r.random() < 0.8:  # mostly turn-taking, sometimes the same speaker goes on
                slot = 0 if slot else r.randrange(1, len(customers) + 1)
        return SynthCall(title=f"{account} - {r.choice(STAGES)}", rep=rep, account=account,
                         call_date=day.isoformat(), outcome=r.choice(OUTCOMES),
                         customers=customers, utterances=utts)


def insert_calls(lib: Any, gen: Generator, numbers: range) -> tuple[int, int]:
    """Bulk-insert calls ``numbers`` into the library's tables; returns (calls, utterances).

    Same tables and columns as ``Library.insert_call`` (no media files, no words rows,
    no per-call index/tracker work: the index is built afterwards in one pass).
    """
    db = lib.db
    n_utt = 0
    stamp = "2026-01-01T00:00:00Z"
    batch = 100
    for lo in range(numbers.start, numbers.stop, batch):
        calls, speakers, utts = [], [], []
        for n in range(lo, min(lo + batch, numbers.stop)):
            c = gen.call(n)
            call_id = n + 1
            sha = hashlib.sha256(f"synthetic:{gen.seed}:{n}".encode()).hexdigest()
            duration = c.utterances[-1][2] + 2.0
            calls.append((call_id, sha, c.title, c.rep, c.account, c.call_date, c.outcome, 1,
                          duration, 2, 16000, "mp3", "transcribed", f"/synthetic/{n}.mp3",
                          f"{n}.mp3", f"{sha}.mp3", f"{sha}.playback.mp3", "synthetic",
                          "synthetic", stamp, stamp))
            base_sp = call_id * 4  # speaker ids: 4 per call
            speakers.append((base_sp, call_id, "SPEAKER_00", c.rep, "rep", 0))
            for k, name in enumerate(c.customers, start=1):
                speakers.append((base_sp + k, call_id, f"SPEAKER_0{k}", name, "customer", 1))
            base_u = call_id * 1000  # utterance ids: < 1000 per call
            for i, (slot, start, end, text) in enumerate(c.utterances):
                utts.append((base_u + i, call_id, i, base_sp + slot, start, end, text))
        with lib.store.write():
            db.conn.executemany(
                "INSERT INTO calls (id, sha256, title, rep, account, call_date, outcome, "
                "consent, duration_s, channels, sample_rate, codec, status, source_path, "
                "source_name, media_file, playback_file, model, diarization, created_at, "
                "updated_at) VALUES (" + ",".join("?" * 21) + ")", calls)
            db.conn.executemany(
                "INSERT OR IGNORE INTO reps (name, a_player) VALUES (?, 0)",
                [(c[3],) for c in calls])
            db.conn.executemany(
                "INSERT INTO speakers (id, call_id, label, name, role, channel) "
                "VALUES (?, ?, ?, ?, ?, ?)", speakers)
            db.conn.executemany(
                "INSERT INTO utterances (id, call_id, idx, speaker_id, start_s, end_s, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", utts)
        n_utt += len(utts)
    return len(numbers), n_utt


def delete_call(lib: Any, call_id: int) -> None:
    """A call's rows out of SQLite (the library has no delete-call API yet)."""
    with lib.store.write():
        lib.db.execute("DELETE FROM tracker_hits WHERE call_id = ?", [call_id])
        lib.db.execute("DELETE FROM utterances WHERE call_id = ?", [call_id])
        lib.db.execute("DELETE FROM speakers WHERE call_id = ?", [call_id])
        lib.db.execute("DELETE FROM calls WHERE id = ?", [call_id])


# --------------------------------------------------------------------------------------
# FTS5
# --------------------------------------------------------------------------------------
FTS_SELECT = (
    "SELECT utterance_id, call_id, idx, speaker, role, start_s, end_s, text, "
    "highlight(utt, 0, '**', '**'), bm25(utt), title, rep, call_date FROM utt ")
FTS_KEYS = ("utterance_id", "call_id", "index", "speaker", "role", "start_s", "end_s",
            "text", "highlight", "score", "title", "rep", "call_date")
FTS_FROM_LIBRARY = (
    "SELECT u.id, u.text, u.id, u.call_id, u.idx, COALESCE(s.name, s.role), s.role, c.rep, "
    "c.title, c.call_date, u.start_s, u.end_s FROM lib.utterances u "
    "JOIN lib.calls c ON c.id = u.call_id LEFT JOIN lib.speakers s ON s.id = u.speaker_id")


class Fts:
    def __init__(self, path: Path, library_db: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("ATTACH DATABASE ? AS lib", [str(library_db)])

    def build(self) -> int:
        c = self.conn
        c.execute("DROP TABLE IF EXISTS utt")
        c.execute(
            "CREATE VIRTUAL TABLE utt USING fts5(text, utterance_id UNINDEXED, "
            "call_id UNINDEXED, idx UNINDEXED, speaker UNINDEXED, role UNINDEXED, "
            "rep UNINDEXED, title UNINDEXED, call_date UNINDEXED, start_s UNINDEXED, "
            "end_s UNINDEXED, tokenize = 'porter unicode61')")
        with c:
            c.execute("INSERT INTO utt (rowid, text, utterance_id, call_id, idx, speaker, role, "
                      "rep, title, call_date, start_s, end_s) " + FTS_FROM_LIBRARY)
        return c.execute("SELECT count(*) FROM utt").fetchone()[0]

    def index_call(self, call_id: int) -> None:
        with self.conn:
            self.conn.execute("INSERT INTO utt (rowid, text, utterance_id, call_id, idx, "
                              "speaker, role, rep, title, call_date, start_s, end_s) "
                              + FTS_FROM_LIBRARY + " WHERE u.call_id = ?", [call_id])

    def remove_call(self, utterance_ids: list[int]) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM utt WHERE rowid = ?",
                                  [(u,) for u in utterance_ids])

    def search(self, match: str, role: str | None = None, rep: str | None = None,
               limit: int = LIMIT) -> tuple[int, list[dict[str, Any]]]:
        where, params = "WHERE utt MATCH ?", [match]
        if role:
            where += " AND role = ?"
            params.append(role)
        if rep:
            where += " AND rep = ?"
            params.append(rep)
        rows = self.conn.execute(FTS_SELECT + where + " ORDER BY rank LIMIT ?",
                                 [*params, limit]).fetchall()
        total = self.conn.execute("SELECT count(*) FROM utt " + where, params).fetchone()[0]
        return total, [dict(zip(FTS_KEYS, r, strict=True)) for r in rows]


# --------------------------------------------------------------------------------------
# the queries: (whoosh text, FTS5 MATCH, role, rep)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Q:
    whoosh: str
    fts: str | None  # None: FTS5 has no equivalent
    role: str | None = None
    rep: str | None = None
    fts_note: str = ""


TERMS = ["budget", "pricing", "salesforce", "hubspot", "contract", "renewal", "integration",
         "onboarding", "security", "discount", "dashboard", "pilot", "forecasting", "proposal",
         "spreadsheets", "compliance", "adoption", "ROI", "calendar", "reorg", "migration",
         "invoice", "churn", "quota", "webinar", "clunky", "reference", "coaching",
         "procurement", "legal"]
PHRASES = ["too expensive", "need to talk to my boss", "we already use salesforce",
           "not in the budget", "next quarter", "send over", "case study", "over budget",
           "free trial", "sign off", "check with my", "circle back", "calendar invite",
           "next steps", "single sign-on", "run it by", "bad time", "not a priority",
           "annual contract", "real time", "hours on manual", "business case", "security team",
           "in the middle of a reorg", "what happens to our data", "already use hubspot",
           "two week pilot", "end of march", "per seat", "first three weeks"]
BOOLEANS = [("budget AND approval", "budget AND approval"),
            ("salesforce OR hubspot", "salesforce OR hubspot"),
            ("pricing NOT discount", "pricing NOT discount"),
            ("(contract OR agreement) renewal", "(contract OR agreement) AND renewal"),
            ("budget -over", "budget NOT over"),
            ("gong OR chorus OR clari", "gong OR chorus OR clari"),
            ("pilot AND free", "pilot AND free"),
            ("security compliance", "security AND compliance"),
            ('"too expensive" OR "over budget"', '"too expensive" OR "over budget"'),
            ("boss OR manager OR director", "boss OR manager OR director"),
            ("integration NOT salesforce", "integration NOT salesforce"),
            ("onboarding timeline", "onboarding AND timeline"),
            ("demo great", "demo AND great"),
            ("discount year", "discount AND year"),
            ('"next quarter" priority', '"next quarter" AND priority'),
            ("adoption OR usage", "adoption OR usage"),
            ("(zoho OR pipedrive) NOT zendesk", "(zoho OR pipedrive) NOT zendesk"),
            ("proposal case study", "proposal AND case AND study"),
            ("contract renews", "contract AND renews"),
            ("invoice payment", "invoice AND payment"),
            ]
FUZZY = [("salesforse~", "salesforce"), ("hubspott~", "hubspot"), ("budgett~", "budget"),
         ("integraton~", "integration"), ("contrct~", "contract"), ("discont~", "discount"),
         ("onbording~", "onboarding"), ("securty~", "security"), ("proposl~", "proposal"),
         ("forcasting~", "forecasting"), ("piplene~2", "pipeline"), ("dashbord~", "dashboard"),
         ("renewl~", "renewal"), ("complience~", "compliance"), ("spredsheets~", "spreadsheets"),
         ("outrech~", "outreach"), ("zendsk~", "zendesk"), ("calender~", "calendar"),
         ("pilott~", "pilot"), ("webnar~", "webinar")]
PREFIXES = ["pric*", "integr*", "onboard*", "renew*", "secur*", "discount*", "forecast*",
            "spread*", "automat*", "compl*", "negot*", "migrat*", "sales*", "hub*", "dash*",
            "propos*", "calend*", "contract*", "budg*", "pipel*"]
ROLE_QUERIES = [("too expensive", True), ("not in the budget", True), ("boss", False),
                ("need to talk to my boss", True), ("salesforce", False), ("discount", False),
                ("next quarter", True), ("we already use", True), ("price", False),
                ("security", False), ("pilot", False), ("over budget", True),
                ("onboarding", False), ("sign off", True), ("circle back", True),
                ("integration", False), ("contract", False), ("roi", False),
                ("case study", True), ("calendar invite", True)]
REP_QUERY_TEXTS = ["budget", "too expensive", "discount", "pricing", "next steps",
                   "salesforce", "pilot", "need to talk to my boss", "proposal",
                   "contract", "circle back", "integration", "security", "renewal",
                   "case study", "over budget", "demo", "timeline", "calendar invite",
                   "follow up"]


def _phr(text: str) -> str:
    return f'"{text}"'


def build_queries() -> dict[str, list[Q]]:
    roles = ["customer", "rep"]
    kinds: dict[str, list[Q]] = {
        "term": [Q(t, t) for t in TERMS],
        "phrase": [Q(_phr(p), _phr(p)) for p in PHRASES],
        "boolean": [Q(w, f) for w, f in BOOLEANS],
        "fuzzy": [Q(w, exact, fts_note="exact term") for w, exact in FUZZY],
        "prefix": [Q(p, p) for p in PREFIXES],
        "role-filtered": [
            Q(_phr(t) if phrase else t, _phr(t) if phrase else t,
              role=roles[0] if i % 4 else roles[1])
            for i, (t, phrase) in enumerate(ROLE_QUERIES)],
        "rep-filtered": [
            Q(_phr(t) if " " in t else t, _phr(t) if " " in t else t, rep=REPS[i % len(REPS)])
            for i, t in enumerate(REP_QUERY_TEXTS)],
    }
    return kinds


# --------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


@dataclass
class KindResult:
    kind: str
    queries: int
    whoosh_ms: list[float] = field(default_factory=list)
    whoosh_cpu_ms: list[float] = field(default_factory=list)
    fts_ms: list[float] = field(default_factory=list)
    whoosh_hits: int = 0  # sum of totals over the kind's queries
    fts_hits: int = 0
    totals: list[int] = field(default_factory=list)  # whoosh total per query
    worst: tuple[float, str] = (0.0, "")


@dataclass
class SizeResult:
    calls: int
    utterances: int = 0
    generate_s: float = 0.0
    whoosh_build_s: float | None = None
    fts_build_s: float | None = None
    whoosh_mb: float = 0.0
    fts_mb: float = 0.0
    sqlite_mb: float = 0.0
    whoosh_segments: int = 0
    open_s: float = 0.0  # SearchIndex open + first searcher on the built index
    cold_ms: dict[str, float] = field(default_factory=dict)  # first searches after open
    other_load: dict[str, float] = field(default_factory=dict)  # phase -> cores
    add_ms: list[float] = field(default_factory=list)
    add_first_search_ms: list[float] = field(default_factory=list)
    trackers_ms: list[float] = field(default_factory=list)
    delete_ms: list[float] = field(default_factory=list)
    delete_first_search_ms: list[float] = field(default_factory=list)
    fts_add_ms: list[float] = field(default_factory=list)
    fts_delete_ms: list[float] = field(default_factory=list)
    kinds: list[KindResult] = field(default_factory=list)
    phrase_check: str = ""


def du_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def use_search_rev(rev: str) -> None:
    """Make ``Library`` use ``clipstudio/search.py`` as it was at git revision ``rev`` (to
    measure a change against its parent on the same data; the index schema may differ)."""
    import importlib.util

    import clipstudio.library

    source = subprocess.run(["git", "show", f"{rev}:clipstudio/search.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="search-rev-"))
    path = folder / "search_rev.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("clipstudio.search_rev", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # relative imports resolve inside clipstudio
    clipstudio.library.SearchIndex = module.SearchIndex  # what Library.index builds
    SEARCH["module"] = module


SEARCH: dict[str, Any] = {}  # "module": the search module in use


def search_module() -> Any:
    if "module" not in SEARCH:
        import clipstudio.search

        SEARCH["module"] = clipstudio.search
    return SEARCH["module"]


def run_whoosh(lib: Any, q: Q) -> int:
    grouped = search_module().grouped
    result = lib.search(q.whoosh, role=q.role, rep=q.rep, limit=LIMIT)
    groups = grouped(result)  # what the Search page renders
    assert sum(g.count for g in groups) == len(result.hits)
    return result.total


def run_fts(fts: Fts, q: Q) -> int:
    assert q.fts is not None
    total, _hits = fts.search(q.fts, role=q.role, rep=q.rep)
    return total


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall ms, this thread's CPU ms, result): CPU time barely moves with other load."""
    c, t = time.thread_time(), time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000, out


class OtherLoad:
    """CPU cores the rest of the machine used while the block ran (from /proc/stat, minus
    this process's own CPU): anything well above 0 means the timings are disturbed."""

    def __enter__(self) -> OtherLoad:
        self.busy, _ = cpu_jiffies()
        self.mine = own_cpu_s()
        self.t = time.perf_counter()
        self.cores = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        busy, _ = cpu_jiffies()
        elapsed = max(1e-6, time.perf_counter() - self.t)
        others = (busy - self.busy) / os.sysconf("SC_CLK_TCK") - (own_cpu_s() - self.mine)
        self.cores = max(0.0, others / elapsed)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs, from the first line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]  # idle + iowait
    return sum(vals[:8]) - idle, sum(vals[:8])


def own_cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def measure_queries(lib: Any, fts: Fts, repeats: int, log: Callable[[str], None]
                    ) -> list[KindResult]:
    out = []
    for kind, qs in build_queries().items():
        kr = KindResult(kind, len(qs))
        for q in qs:  # warm-up: every query once on each engine, not counted
            run_whoosh(lib, q)
            run_fts(fts, q)
        for _ in range(repeats):
            for q in qs:
                ms, cpu_ms, total = timed_cpu(lambda q=q: run_whoosh(lib, q))
                kr.whoosh_ms.append(ms)
                kr.whoosh_cpu_ms.append(cpu_ms)
                if ms > kr.worst[0]:
                    kr.worst = (ms, f"{q.whoosh}" + (f" role={q.role}" if q.role else "")
                                + (f" rep={q.rep}" if q.rep else "") + f" ({total} hits)")
                fms, ftotal = timed(lambda q=q: run_fts(fts, q))
                kr.fts_ms.append(fms)
        for q in qs:
            kr.totals.append(run_whoosh(lib, q))
            kr.whoosh_hits += kr.totals[-1]
            kr.fts_hits += run_fts(fts, q)
        log(f"  {kind:14s} whoosh p50 {pct(kr.whoosh_ms, 50):7.1f} p95 "
            f"{pct(kr.whoosh_ms, 95):7.1f} (cpu {pct(kr.whoosh_cpu_ms, 95):5.1f}) ms | fts5 p50 "
            f"{pct(kr.fts_ms, 50):6.1f} p95 {pct(kr.fts_ms, 95):6.1f} ms | hits "
            f"{kr.whoosh_hits}/{kr.fts_hits} | worst {kr.worst[0]:.0f} ms {kr.worst[1]}")
        out.append(kr)
    return out


def check_phrases(lib: Any) -> str:
    """Do the word-pair phrases match exactly what whoosh's own phrase query matches?"""
    rewrite = getattr(search_module(), "_phrases_on_pairs", None)
    if rewrite is None:
        return "not applicable (this search.py has no word-pair phrases)"
    si = lib.index
    with si._lock:
        searcher = si._current_searcher()
        same = 0
        for q in build_queries()["phrase"]:
            plain = si.parse(q.whoosh, expand_synonyms=False)
            fast = rewrite(plain, searcher.reader())
            same += set(searcher.docs_for_query(plain)) == set(searcher.docs_for_query(fast))
    return f"{same} of {len(PHRASES)} phrase queries match the same utterances both ways"


def profiled(fn: Callable[[], Any], path: str) -> Callable[[], Any]:
    """``fn`` run under cProfile, stats saved to ``path`` (a diagnostic, off by default)."""
    import cProfile

    def run() -> Any:
        prof = cProfile.Profile()
        try:
            return prof.runcall(fn)
        finally:
            prof.dump_stats(path)
    return run


def measure_incremental(lib: Any, fts: Fts, gen: Generator, n_calls: int, rounds: int,
                        res: SizeResult, log: Callable[[str], None],
                        profile_dir: str = "") -> None:
    """Add one new call then delete it again, ``rounds`` times, on both engines (and once
    more under cProfile, not counted, with ``profile_dir``)."""
    from clipstudio.trackers import apply_trackers

    probe = build_queries()["phrase"][0]
    for k in range(rounds + (1 if profile_dir else 0)):
        counted = k < rounds
        n = n_calls + k  # a call number not in the library
        call_id = n + 1
        insert_calls(lib, gen, range(n, n + 1))  # SQLite commit, not timed
        add: Callable[[], Any] = lambda cid=call_id: lib.index.index_call(cid)  # noqa: E731
        remove: Callable[[], Any] = lambda cid=call_id: lib.index.remove_call(cid)  # noqa: E731
        if not counted:
            add = profiled(add, f"{profile_dir}/add-{n_calls}.prof")
            remove = profiled(remove, f"{profile_dir}/delete-{n_calls}.prof")
        times = {}
        times["add"], _ = timed(add)
        times["add_first"], _ = timed(lambda: run_whoosh(lib, probe))
        times["trackers"], _ = timed(lambda cid=call_id: apply_trackers(lib, cid))
        times["fts_add"], _ = timed(lambda cid=call_id: fts.index_call(cid))
        uids = [r[0] for r in lib.db.execute("SELECT id FROM utterances WHERE call_id = ?",
                                             [call_id]).fetchall()]
        delete_call(lib, call_id)
        times["delete"], _ = timed(remove)
        times["delete_first"], _ = timed(lambda: run_whoosh(lib, probe))
        times["fts_delete"], _ = timed(lambda u=uids: fts.remove_call(u))
        if counted:
            res.add_ms.append(times["add"])
            res.add_first_search_ms.append(times["add_first"])
            res.trackers_ms.append(times["trackers"])
            res.fts_add_ms.append(times["fts_add"])
            res.delete_ms.append(times["delete"])
            res.delete_first_search_ms.append(times["delete_first"])
            res.fts_delete_ms.append(times["fts_delete"])
    log(f"  add one call: whoosh {statistics.median(res.add_ms):.0f} ms (+ first search "
        f"{statistics.median(res.add_first_search_ms):.0f} ms, trackers "
        f"{statistics.median(res.trackers_ms):.0f} ms), fts5 "
        f"{statistics.median(res.fts_add_ms):.1f} ms; delete: whoosh "
        f"{statistics.median(res.delete_ms):.0f} ms (+ first search "
        f"{statistics.median(res.delete_first_search_ms):.0f} ms), fts5 "
        f"{statistics.median(res.fts_delete_ms):.1f} ms")


def size_folder(n_calls: int, args: argparse.Namespace) -> str:
    return f"calls-{n_calls}-seed-{args.seed}" + (f"-{args.search_rev}" if args.search_rev else "")


def git_head() -> str:
    out = subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=ROOT, capture_output=True,
                         text=True, check=False).stdout.strip()
    return out[:70] or "unknown"


def run_size(n_calls: int, args: argparse.Namespace, workdir: Path,
             log: Callable[[str], None]) -> SizeResult:
    from whoosh import index as whoosh_index

    from clipstudio import Library

    res = SizeResult(n_calls)
    gen = Generator(args.seed)
    folder = workdir / size_folder(n_calls, args)
    stamp = folder / "bench-stamp.json"
    want = {"generator": GENERATOR_VERSION, "calls": n_calls, "seed": args.seed,
            "search_rev": args.search_rev, "schema": search_module().SCHEMA_VERSION}
    reuse = args.keep and stamp.exists() and json.loads(stamp.read_text()) == want
    lib_root = folder / "library"
    fts_path = folder / "fts5.db"
    if not reuse:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        lib = Library(lib_root)
        lib.index  # noqa: B018  an empty index now, so the timed build below is the only one
        t = time.perf_counter()
        _, res.utterances = insert_calls(lib, gen, range(n_calls))
        res.generate_s = time.perf_counter() - t
        log(f"  generated {n_calls} calls, {res.utterances} utterances into SQLite in "
            f"{res.generate_s:.0f} s")
        t = time.perf_counter()
        with OtherLoad() as load:
            lib.reindex()
        res.whoosh_build_s = time.perf_counter() - t
        res.other_load["whoosh build"] = load.cores
        log(f"  whoosh build (SearchIndex.rebuild): {res.whoosh_build_s:.1f} s "
            f"({res.utterances / res.whoosh_build_s:.0f} utterances/s)")
        lib.index.close()
        lib.store.close()
        fts = Fts(fts_path, lib_root / "clipstudio.db")
        t = time.perf_counter()
        fts.build()
        res.fts_build_s = time.perf_counter() - t
        log(f"  fts5 build: {res.fts_build_s:.1f} s "
            f"({res.utterances / res.fts_build_s:.0f} utterances/s)")
        if args.keep:
            stamp.write_text(json.dumps(want))
    else:
        fts = Fts(fts_path, lib_root / "clipstudio.db")
        log(f"  reusing {folder} (build not measured)")
    # a fresh process-like start: new Library, index opened from disk
    lib = Library(lib_root)
    t = time.perf_counter()
    doc_count = lib.index.doc_count()
    res.open_s = time.perf_counter() - t
    # first searches on the fresh SearchIndex: filter bitsets and lengths not cached yet
    cold = build_queries()
    for kind in ("phrase", "role-filtered", "rep-filtered"):
        res.cold_ms[kind], _ = timed(lambda q=cold[kind][0]: run_whoosh(lib, q))
    res.utterances = doc_count
    assert doc_count == fts.conn.execute("SELECT count(*) FROM utt").fetchone()[0]
    assert lib.index.last_repair is None, lib.index.last_repair
    res.whoosh_segments = len(whoosh_index.open_dir(str(lib_root / "index")).reader()
                              .leaf_readers())
    res.whoosh_mb = du_mb(lib_root / "index")
    res.fts_mb = du_mb(fts_path)
    res.sqlite_mb = du_mb(lib_root / "clipstudio.db")
    log(f"  index open: {res.open_s:.2f} s; sizes: whoosh {res.whoosh_mb:.0f} MB, fts5 "
        f"{res.fts_mb:.0f} MB, library db {res.sqlite_mb:.0f} MB")
    with OtherLoad() as load:
        res.kinds = measure_queries(lib, fts, args.repeats, log)
    res.other_load["queries"] = load.cores
    if n_calls <= 2000:  # whoosh's own phrase queries take seconds each on big libraries
        res.phrase_check = check_phrases(lib)
        log(f"  phrase check: {res.phrase_check}")
    with OtherLoad() as load:
        measure_incremental(lib, fts, gen, n_calls, args.incremental, res, log,
                            args.profile_incremental)
    res.other_load["incremental"] = load.cores
    log("  other load (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in res.other_load.items()))
    lib.index.close()
    lib.store.close()
    fts.conn.close()
    return res


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def machine_info() -> dict[str, str]:
    from importlib.metadata import version

    return base_machine_info(**{
        "whoosh": f"Whoosh-Reloaded {version('Whoosh-Reloaded')}",
        "sqlite": f"{sqlite3.sqlite_version} (FTS5, Python's sqlite3 module)",
        "sqlite-utils": version("sqlite-utils"),
    })


def _f(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _med(v: list[float]) -> float:
    return statistics.median(v) if v else float("nan")


def render(results: list[SizeResult], info: dict[str, str], args: argparse.Namespace,
           started: dt.datetime, total_s: float) -> str:
    sizes = " ".join(f"--calls {r.calls}" for r in results)
    if args.search_rev:
        sizes += f" --search-rev {args.search_rev}"
    lines = [
        "# Search benchmark: ClipStudio (whoosh) vs SQLite FTS5",
        "",
        f"Generated by `bench/search_bench.py {sizes}` (seed {args.seed}, {args.repeats} "
        f"timed rounds) on {started:%Y-%m-%d %H:%M} (local); the run took "
        f"{total_s / 60:.1f} min.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "## Method",
        "",
        "- **Library**: synthetic sales calls, seeded and deterministic: 220-280 utterances "
        "per call (rep and customer turns; 15% of calls have a second customer), ~20 words per "
        "utterance, from rep/customer templates (discovery, demo, pricing, objections such as "
        "\"too expensive\", \"we already use Salesforce\", \"need to talk to my boss\", next "
        "steps) mixed with generic business sentences from a Zipf-weighted lexicon; 14 reps, "
        "480 account names, 4 outcomes, dates over 2024-2025. Written into a real library "
        "folder (`Library(root)`, real migrations) with bulk INSERTs into `calls`, "
        "`speakers` and `utterances`, the tables `Library.insert_call` writes. Not through "
        "`insert_call` itself: it needs media files and re-indexes and re-runs the trackers "
        "after every call. `words` stays empty (search never reads it).",
        "- **whoosh** = ClipStudio's real search path: build = `Library.reindex()` "
        "(`SearchIndex.rebuild`, one writer, reads SQLite); each query = "
        f"`Library.search(q, role=, rep=, limit={LIMIT})` (parse + default synonym "
        "expansion + BM25 top 50 + exact total + Markdown highlight of every hit shown + "
        "`Hit` objects) followed by `grouped(result)`, as the Search page does.",
        "- **FTS5** = one FTS5 table (`tokenize='porter unicode61'`) in its own SQLite "
        "file: `text` indexed, shown fields (ids, speaker, role, rep, title, date, times) "
        "UNINDEXED; build = one `INSERT ... SELECT` joining the library's tables. Each "
        f"query = `SELECT ..., highlight(), bm25() ... WHERE utt MATCH ? [AND role = ?] "
        f"[AND rep = ?] ORDER BY rank LIMIT {LIMIT}` + `SELECT count(*)` for the total, "
        "rows turned into dicts.",
        "- Query kinds, each a set of different queries (counts in the table): **term** "
        "(`budget`, `salesforce`...), **phrase** (`\"too expensive\"`, `\"need to talk to my "
        "boss\"`...), **boolean** (`salesforce OR hubspot`, `pricing NOT discount`, "
        "`budget -over`, implicit AND...; FTS5 gets explicit AND/NOT), **fuzzy** "
        "(`salesforse~`; FTS5 has no fuzzy matching, so its column times the exact, "
        "correctly spelled term instead, which is easier work: the ratio is only indicative), "
        "**prefix** (`pric*`), **role-filtered** (objection phrases and terms with "
        "role=customer, a quarter with role=rep; FTS5: `AND role = ?`), **rep-filtered** "
        "(terms and phrases with rep=one of 14 reps; FTS5: `AND rep = ?`).",
        "- Warm-up: every query runs once on each engine first, not counted. Then "
        f"{args.repeats} rounds over all queries, whoosh and FTS5 alternating query by "
        "query; p50/p95 are over all timed runs of a kind (nearest rank), wall clock. "
        "Ratio = whoosh / FTS5 (above 1: whoosh slower). **whoosh p95 CPU** = the same "
        "runs in CPU time of the searching thread, which other processes on the machine "
        "barely move: compare it with the wall p95 when **other load** is high. The "
        "**first searches** on a freshly opened index (no cached filter bitsets yet) are "
        "timed separately, below the tables.",
        "- **hits** = sum of the totals (every match, not just the page) over the kind's "
        "queries, whoosh / FTS5: they differ because whoosh expands synonyms "
        "(`price` also finds cost, fee) and stems with porter2 vs FTS5's porter.",
        f"- **Incremental** (median of {args.incremental}): a new synthetic call is "
        "committed to SQLite (not timed), then `index_call(id)` (whoosh) / one "
        "`INSERT ... SELECT` (FTS5) is timed; then its rows are deleted from SQLite and "
        "`remove_call(id)` / `DELETE` by rowid is timed. **first search** = the next search "
        "after that commit (whoosh reopens its searcher then). **trackers** = "
        "`apply_trackers(lib, id)`, the rest of what `Library._changed` does after "
        "`index_call` (5 saved searches limited to that call, hits written to SQLite).",
        "",
        f"Target: at 1,000 calls, whoosh p95 <= {TARGET_P95_MS:.0f} ms for phrase and "
        "filtered queries.",
        "",
    ]
    for r in results:
        lines += [f"## {r.calls:,} calls ({r.utterances:,} utterances)", "",
                  "| query kind | queries | whoosh p50 ms | whoosh p95 ms | whoosh p95 CPU ms "
                  "| FTS5 p50 ms | FTS5 p95 ms | ratio p50 | ratio p95 | hits whoosh / FTS5 "
                  "| hits per query (median, max) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for k in r.kinds:
            wp50, wp95 = pct(k.whoosh_ms, 50), pct(k.whoosh_ms, 95)
            fp50, fp95 = pct(k.fts_ms, 50), pct(k.fts_ms, 95)
            star = "*" if k.kind == "fuzzy" else ""
            lines.append(
                f"| {k.kind} | {k.queries} | {_f(wp50)} | {_f(wp95)} "
                f"| {_f(pct(k.whoosh_cpu_ms, 95))} | {_f(fp50)}{star} "
                f"| {_f(fp95)}{star} | {wp50 / fp50:.1f}x | {wp95 / fp95:.1f}x "
                f"| {k.whoosh_hits:,} / {k.fts_hits:,}{star} "
                f"| {statistics.median(k.totals):,.0f}, {max(k.totals):,} |")
        lines += ["", "\\* FTS5 has no fuzzy matching: exact correctly-spelled term.", ""]
        build = []
        if r.whoosh_build_s is not None and r.fts_build_s is not None:
            build = [
                f"| build, s | {r.whoosh_build_s:.1f} | {r.fts_build_s:.1f} "
                f"| {r.whoosh_build_s / r.fts_build_s:.0f}x |",
                f"| build, utterances/s | {r.utterances / r.whoosh_build_s:,.0f} "
                f"| {r.utterances / r.fts_build_s:,.0f} | |",
            ]
        lines += [
            "| build and updates | whoosh | FTS5 | ratio |",
            "|---|---|---|---|",
            *build,
            f"| index size, MB | {r.whoosh_mb:.0f} | {r.fts_mb:.0f} "
            f"| {r.whoosh_mb / r.fts_mb:.1f}x |",
            f"| add one call, ms | {_med(r.add_ms):.0f} | {_med(r.fts_add_ms):.1f} "
            f"| {_med(r.add_ms) / _med(r.fts_add_ms):.0f}x |",
            f"| first search after the add, ms | {_med(r.add_first_search_ms):.0f} | | |",
            f"| then the 5 default trackers on that call, ms | {_med(r.trackers_ms):.0f} "
            "| | |",
            f"| delete one call, ms | {_med(r.delete_ms):.0f} | {_med(r.fts_delete_ms):.1f} "
            f"| {_med(r.delete_ms) / _med(r.fts_delete_ms):.0f}x |",
            f"| first search after the delete, ms | {_med(r.delete_first_search_ms):.0f} "
            "| | |",
            "",
            f"Library database {r.sqlite_mb:.0f} MB; synthetic rows written in "
            f"{r.generate_s:.0f} s; whoosh index in {r.whoosh_segments} segment(s); opening "
            f"the built index (`SearchIndex(lib)`: checks, first searcher) took "
            f"{r.open_s:.2f} s; the first searches on it: " + ", ".join(
                f"{kind} {ms:.0f} ms" for kind, ms in r.cold_ms.items()) + ". Other load "
            "(cores used by other processes): " + ", ".join(
                f"{phase} {cores:.2f}" for phase, cores in r.other_load.items()) + ".",
            "",
            *([f"Exactness: whoosh's phrase query on `text` vs the word pairs "
               f"ClipStudio runs: {r.phrase_check}.", ""] if r.phrase_check else []),
            "Slowest whoosh query per kind: " + "; ".join(
                f"{k.kind} {k.worst[0]:.0f} ms `{k.worst[1]}`" for k in r.kinds) + ".",
            "",
        ]
    lines += ["## Verdict", ""]
    for r in results:
        for kind in ("phrase", "role-filtered", "rep-filtered"):
            k = next(k for k in r.kinds if k.kind == kind)
            p95, cpu95 = pct(k.whoosh_ms, 95), pct(k.whoosh_cpu_ms, 95)
            if r.calls == 1000:
                ok = "meets" if p95 <= TARGET_P95_MS else "MISSES"
                lines.append(f"- 1,000 calls, {kind}: whoosh p95 {p95:.1f} ms (CPU "
                             f"{cpu95:.1f} ms) {ok} the {TARGET_P95_MS:.0f} ms target.")
            else:
                lines.append(f"- {r.calls:,} calls, {kind}: whoosh p95 {p95:.1f} ms (CPU "
                             f"{cpu95:.1f} ms); no target at this size.")
    lines += ["", "## Notes", "", *notes(results)]
    return "\n".join(lines)


def notes(results: list[SizeResult]) -> list[str]:
    """What the figures say, computed from them, plus what they cannot show."""
    out = []
    for r in results:
        kinds = [k for k in r.kinds if k.kind != "fuzzy"]  # FTS5 ran an exact term there
        wins = [k.kind for k in kinds if pct(k.whoosh_ms, 95) > pct(k.fts_ms, 95)]
        loses = [k.kind for k in kinds if k.kind not in wins]
        build = ""
        if r.whoosh_build_s and r.fts_build_s:
            build = f"builds {r.whoosh_build_s / r.fts_build_s:.0f}x faster, "
        out.append(
            f"- {r.calls:,} calls: FTS5 {build}adds a call "
            f"{_med(r.add_ms) / _med(r.fts_add_ms):.0f}x and deletes one "
            f"{_med(r.delete_ms) / _med(r.fts_delete_ms):.0f}x faster, its index is "
            f"{r.whoosh_mb / r.fts_mb:.1f}x smaller, and its p95 is lower for "
            f"{', '.join(wins) or 'no kind'}" + (f" (whoosh's is lower for {', '.join(loses)})"
                                                 if loses else "") + ".")
    out += [
        "- Why FTS5 wins where it does: whoosh is pure Python, so every matching utterance "
        "costs a few microseconds of interpreter time (decoding postings, BM25, the top-50 "
        "heap, and the exact total ClipStudio shows); latency grows with the number of "
        "matches, which grows with the library. FTS5 does the same work in C. A query whose "
        "words are common (a few thousand matches per 1,000 calls) is what sets the p95.",
        "- Why ClipStudio still uses whoosh: fuzzy matching (`salesforse~` finds Salesforce; "
        "FTS5 has none, so misheard or misspelt names would find nothing); porter2 stemming "
        "with no stop list, chosen and tested for sales phrasing; synonym groups (`price` "
        "also finds cost, fee) and the field syntax (`role:customer`, `rep:\"Dana Lee\"`, "
        "`date:[...]`) built on whoosh's query parser and query objects; stem-aware Markdown "
        "highlighting. FTS5 would need our own query translation, synonym rewriting and "
        "fuzzy layer. The hit counts differ for these reasons (synonyms widen whoosh's "
        "results; porter2 and FTS5's porter stem a few words differently).",
        "- The synthetic text is more repetitive than real calls: the template sentences "
        "(objections, next steps) recur 1-4 times a call, and the generic talk comes from a "
        "few hundred words. Real transcripts have a larger vocabulary, so most posting lists "
        "are shorter and searches faster; the phrase queries here are a hard case "
        "(\"hits per query\" in the tables).",
        "- Build and incremental figures are whoosh's writer: every utterance is analysed "
        "twice (`text` and its word pairs `pairs`), and every posting is pickled through "
        "whoosh's external sort (`limitmb` 64 keeps memory bounded on a small box). A "
        "delete is cheap to write but the next search reopens the searcher, so the "
        "\"first search after\" rows are what a user waits for after an edit.",
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--calls", type=int, action="append",
                   help="library size; repeat for several (default: 1000 and 10000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="timed rounds over all queries")
    p.add_argument("--incremental", type=int, default=5, help="add/delete rounds")
    p.add_argument("--workdir", default="",
                   help="where the synthetic libraries go (default: a temporary folder)")
    p.add_argument("--keep", action="store_true",
                   help="keep the libraries in --workdir and reuse them on the next run "
                        "(build then not measured)")
    p.add_argument("--search-rev", default="",
                   help="measure clipstudio/search.py as of this git revision instead of the "
                        "working tree (written to its own block, search_bench_rev)")
    p.add_argument("--profile-incremental", default="", metavar="DIR",
                   help="save cProfile stats of the first add and delete to DIR (diagnostic; "
                        "the profiled round is slower)")
    p.add_argument("--output", default=str(RESULTS),
                   help="markdown report path ('' to skip; default bench/RESULTS.md)")
    args = p.parse_args(argv)
    sizes = args.calls or [1000, 10000]
    if any(n < 10 for n in sizes) or args.repeats < 1 or args.incremental < 1:
        p.error("--calls must be at least 10, --repeats and --incremental at least 1")
    if args.keep and not args.workdir:
        p.error("--keep needs --workdir")

    started = dt.datetime.now()
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.0f}s] {msg}", flush=True)

    info = machine_info()
    info["clipstudio/search.py"] = (f"as of git revision {args.search_rev}" if args.search_rev
                                    else f"working tree (on {git_head()})")
    log("machine: " + json.dumps(info))
    if args.search_rev:
        use_search_rev(args.search_rev)
    results = []
    with tempfile.TemporaryDirectory(prefix="clipstudio-search-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        for n in sizes:
            log(f"{n} calls")
            results.append(run_size(n, args, workdir, log))
            if not args.keep:
                shutil.rmtree(workdir / size_folder(n, args), ignore_errors=True)
    text = render(results, info, args, started, time.perf_counter() - t0)
    print()
    print(text)
    if args.output:
        write_section(Path(args.output), "search_bench_rev" if args.search_rev
                      else "search_bench", text)
        print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
